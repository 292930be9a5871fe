import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { InvalidInputError, type InvalidParam } from '../core/errors.js';

const MAX_NAME = 64;
const MAX_PARAMS = 20;

/**
 * The validation preset: strips nothing silently (unknown fields are refused), transforms to the DTO
 * classes, never converts types implicitly, and answers one 400 problem with `invalid_params` whose
 * reasons never contain the value sent.
 */
export function createSecurityValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new InvalidInputError(flatten(errors).slice(0, MAX_PARAMS)),
  });
}

function flatten(errors: readonly ValidationError[], parent = ''): InvalidParam[] {
  const params: InvalidParam[] = [];
  for (const error of errors) {
    const name = (parent ? `${parent}.${error.property}` : error.property).slice(0, MAX_NAME);
    for (const [constraint, message] of Object.entries(error.constraints ?? {})) {
      // class-validator messages name the property, never the value, unless a DTO says otherwise.
      const reason =
        constraint === 'whitelistValidation' ? 'is not an accepted field' : message.replace(error.property, '').trim();
      params.push({ name, reason: reason.slice(0, 200) });
    }
    if (error.children?.length) params.push(...flatten(error.children, name));
  }
  return params;
}
