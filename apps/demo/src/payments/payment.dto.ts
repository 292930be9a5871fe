import { IsIn, IsNumber, IsString, Matches, Max, Min, ValidateBy, type ValidationOptions } from 'class-validator';

/** The ISO 4217 codes this runtime knows (ICU's list of currencies in use). */
export const ISO_4217_CODES: readonly string[] = Intl.supportedValuesOf('currency');

/** The largest accepted amount. */
export const MAX_PAYMENT_AMOUNT = 1_000_000_000;

/**
 * At most 2 decimals. Not `IsNumber`'s `maxDecimalPlaces`: it reads `toString()` and throws on a number
 * written with an exponent (`1e-7`), which would answer 500.
 */
function HasAtMostTwoDecimals(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'hasAtMostTwoDecimals',
      validator: {
        validate: (value: unknown) => typeof value === 'number' && Number(value.toFixed(2)) === value,
        defaultMessage: () => '$property must have at most 2 decimals',
      },
    },
    options,
  );
}

/** `POST /payments`: an amount with at most 2 decimals, an ISO 4217 currency and the client's reference. */
export class PaymentDto {
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @HasAtMostTwoDecimals()
  @Min(0.01, { message: 'amount must be positive' })
  @Max(MAX_PAYMENT_AMOUNT, { message: `amount must be at most ${MAX_PAYMENT_AMOUNT}` })
  amount!: number;

  @IsString()
  @IsIn(ISO_4217_CODES, { message: 'currency must be an ISO 4217 code in upper case, e.g. EUR' })
  currency!: string;

  @IsString()
  @Matches(/^[A-Za-z0-9 _.-]{1,64}$/, {
    message: 'reference must be 1 to 64 letters, digits, spaces, "_", "." or "-"',
  })
  reference!: string;
}
