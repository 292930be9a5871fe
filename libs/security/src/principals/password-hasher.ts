import argon2 from 'argon2';

/** argon2id parameters; tests use `PASSWORD_HASH_TEST_COST` to stay fast. */
export interface PasswordHashCost {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/** OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane. */
export const PASSWORD_HASH_COST: PasswordHashCost = Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
/** Deliberately weak: for tests only. */
export const PASSWORD_HASH_TEST_COST: PasswordHashCost = Object.freeze({
  memoryCost: 1_024,
  timeCost: 1,
  parallelism: 1,
});

/** Hashes and verifies passwords with argon2id. */
export class PasswordHasher {
  private dummy: Promise<string> | undefined;

  constructor(private readonly cost: PasswordHashCost = PASSWORD_HASH_COST) {}

  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, ...this.cost });
  }

  /** False for a wrong password or an unreadable hash; never throws for bad input. */
  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }

  /** Spends the same time as a real verification, so unknown usernames do not answer faster. */
  async burn(password: string): Promise<void> {
    this.dummy ??= this.hash('nest-api-security timing equaliser');
    await this.verify(await this.dummy, password);
  }
}
