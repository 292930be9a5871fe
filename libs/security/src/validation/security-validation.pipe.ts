import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import {
  InvalidInputError,
  UnsupportedMediaTypeError,
  type InputViolation,
  type InvalidParam,
} from '../core/errors.js';

const MAX_NAME = 64;
const MAX_PARAMS = 20;
const MAX_VALUE = 32;
// Values of fields with such names never reach the security event, not even their start.
const SECRET_NAME = /pass|secret|token|key|auth|cookie|otp|code|credential|signature/i;
const NOT_DTOS = new Set<unknown>([String, Number, Boolean, Array, Object, Buffer, undefined]);

/**
 * The validation preset: unknown fields are refused (never stripped silently), bodies and queries are
 * transformed to their DTO classes with no implicit conversion (so `{"$gt": ""}` or `["a"]` never turns
 * into a string), and every failure is one 400 problem with `invalid_params` whose reasons never contain
 * the value sent. A DTO-typed body that is not JSON (a form, text, bytes) answers 415. The security event
 * gets the field, the rule and the start of the value (none for secret-looking fields).
 */
export class SecurityValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
      // The value is kept for the event (truncated); the response never carries it.
      validationError: { target: false, value: true },
      exceptionFactory: (errors) => {
        const found = flatten(errors);
        return new InvalidInputError(
          found.map(({ param }) => param).slice(0, MAX_PARAMS),
          undefined,
          {},
          found.map(({ violation }) => violation).slice(0, MAX_PARAMS),
        );
      },
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // The body parsers leave anything but JSON as a Buffer (or a string for text/plain).
    if (
      metadata.type === 'body' &&
      !NOT_DTOS.has(metadata.metatype) &&
      (Buffer.isBuffer(value) || typeof value === 'string')
    ) {
      throw new UnsupportedMediaTypeError();
    }
    return super.transform(value, metadata);
  }
}

/** The preset as a pipe instance (the module registers it globally). */
export function createSecurityValidationPipe(): ValidationPipe {
  return new SecurityValidationPipe();
}

function flatten(
  errors: readonly ValidationError[],
  parent = '',
): Array<{ param: InvalidParam; violation: InputViolation }> {
  const found: Array<{ param: InvalidParam; violation: InputViolation }> = [];
  for (const error of errors) {
    const name = (parent ? `${parent}.${error.property}` : error.property || 'body').slice(0, MAX_NAME);
    for (const [constraint, message] of Object.entries(error.constraints ?? {})) {
      // class-validator messages name the property, never the value, unless a DTO says otherwise.
      const reason =
        constraint === 'whitelistValidation' ? 'is not an accepted field' : message.replace(error.property, '').trim();
      const value = SECRET_NAME.test(name) ? undefined : preview(error.value);
      found.push({
        param: { name, reason: reason.slice(0, 200) },
        violation: { name, rule: constraint, ...(value === undefined ? {} : { value }) },
      });
    }
    if (error.children?.length) found.push(...flatten(error.children, name));
  }
  return found;
}

/** The start of a refused value for the event: never more than 32 characters, objects by their keys only. */
function preview(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE - 1)}…` : value;
  if (Array.isArray(value)) return `array(${value.length})`;
  if (typeof value === 'object') return `object{${Object.keys(value).slice(0, 4).join(',')}}`.slice(0, MAX_VALUE);
  return typeof value;
}
