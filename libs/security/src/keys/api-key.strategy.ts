import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { HeaderAPIKeyStrategy } from 'passport-headerapikey';

/** Name under which the strategy is registered with passport. */
export const API_KEY_STRATEGY = 'nest-api-security:api-key';

/**
 * passport-headerapikey reads `X-API-Key`; verification happens in `ApiKeyAuthenticator`, which needs the
 * request (client address for allow-lists) that this strategy's `validate` is not given.
 */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(HeaderAPIKeyStrategy, API_KEY_STRATEGY) {
  constructor() {
    super({ header: 'X-API-Key', prefix: '' }, false);
  }

  validate(apiKey: string): { apiKey: string } {
    return { apiKey };
  }
}
