import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { LIMIT_PATTERN } from '@app/security';

export class CreateKeyDto {
  @IsString() @MaxLength(100) name!: string;
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(129, { each: true })
  scopes?: string[];
  @IsOptional() @IsString() @Matches(/^\d+(ms|s|m|h|d)$/) expiresIn?: string;
  @IsOptional() @IsIn(['live', 'test']) environment?: 'live' | 'test';
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  allowedCidrs?: string[];
  /** The key's own rate limit, `count/window` such as `5000/60s`. */
  @IsOptional() @IsString() @MaxLength(40) @Matches(LIMIT_PATTERN) rateLimit?: string;
}

export class AdminCreateKeyDto extends CreateKeyDto {
  @IsString() @MaxLength(64) owner!: string;
}

export class RotateKeyDto {
  @IsOptional() @IsString() @Matches(/^(0|\d+(ms|s|m|h|d))$/) grace?: string;
}
