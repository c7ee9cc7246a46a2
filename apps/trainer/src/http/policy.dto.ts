import { ApiProperty, ApiPropertyOptional, PickType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNotEmpty, IsNumber, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { TRAIN_PARAM_KEYS } from '../training/train-params';
import { RetrainDto } from './retrain.dto';

/** A week, the longest window, cooldown or history span a policy may state. */
const WEEK_MS = 7 * 24 * 3600 * 1000;
/** Who acts: a plain name (recorded as `operator:<name>` in the action log). */
const ACTOR = /^[A-Za-z0-9._@:-]{1,64}$/;

/** `autoPromote` of PUT /v1/models/{name}/policy. */
export class AutoPromoteDto {
  @ApiPropertyOptional({ default: true, description: 'false: a shadow is judged and the verdict logged, the operator promotes' })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiProperty({ description: 'relative margin: promote when shadow error < active error × (1 − margin)', minimum: 0, maximum: 0.99 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(0.99)
  margin!: number;

  @ApiProperty({ description: 'live events both versions are scored on (after the warm-up) before a verdict', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  minEvents!: number;

  @ApiPropertyOptional({ default: 0, description: "shadow events left out of the comparison while its per-key state warms up" })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000_000)
  warmupEvents?: number;
}

/**
 * `drift.retrain`: the retrain request's training fields, plus what history to read. The source is
 * always Kafka: the last `historyMs` of `topic` (default: the topic the active version was
 * trained on); the result is stored without activation and goes into shadow.
 */
export class DriftRetrainDto extends PickType(RetrainDto, [...TRAIN_PARAM_KEYS, 'textMode', 'policy'] as const) {
  @ApiProperty({ description: 'history read: the last historyMs milliseconds before the retrain starts', minimum: 1000 })
  @IsInt()
  @Min(1000)
  @Max(365 * 24 * 3600 * 1000)
  historyMs!: number;

  @ApiPropertyOptional({ description: "source topic (default: the topic the active version was trained on); one of TRAINER_SOURCE_TOPICS" })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(249)
  topic?: string;

  @ApiPropertyOptional({ description: 'classifiers: labels topic (default: the one the active version was trained with)' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(249)
  labelsTopic?: string;
}

/** `drift` of PUT /v1/models/{name}/policy. */
export class DriftDto {
  @ApiPropertyOptional({ default: true, description: 'false: live error is not watched, no retrain starts by itself' })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ enum: ['mae', 'rmse'], default: 'mae', description: 'error the windows and the shadow are judged by (classifiers: error rate)' })
  @IsOptional()
  @IsIn(['mae', 'rmse'])
  metric?: 'mae' | 'rmse';

  @ApiProperty({ description: 'drift when live error ÷ holdout error exceeds this', minimum: 1 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(1)
  @Max(1000)
  threshold!: number;

  @ApiPropertyOptional({ description: 'a window ends after this many scored events (windowEvents and/or windowMs)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  windowEvents?: number;

  @ApiPropertyOptional({ description: 'a window ends after this many milliseconds (windowEvents and/or windowMs)' })
  @IsOptional()
  @IsInt()
  @Min(1000)
  @Max(WEEK_MS)
  windowMs?: number;

  @ApiPropertyOptional({ default: 50, description: 'a window is judged only once it holds this many events' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  minEvents?: number;

  @ApiPropertyOptional({ default: 2, description: 'drifted windows in a row that start a retrain' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  consecutiveWindows?: number;

  @ApiPropertyOptional({ default: 600_000, description: 'no new retrain for this long after one ended (promoted, rejected or failed)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(WEEK_MS)
  cooldownMs?: number;

  @ApiProperty({ type: DriftRetrainDto })
  @IsObject()
  @ValidateNested()
  @Type(() => DriftRetrainDto)
  retrain!: DriftRetrainDto;
}

/** Who acts on a policy and why (recorded in the action log). */
export class PolicyActorDto {
  @ApiPropertyOptional({ description: 'who: recorded as operator:<by> (default operator)' })
  @IsOptional()
  @IsString()
  @Matches(ACTOR, { message: 'by must be 1-64 of [A-Za-z0-9._@:-]' })
  by?: string;

  @ApiPropertyOptional({ description: 'why, recorded with the change' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}

/** PUT /v1/models/{name}/policy. */
export class PolicyDto extends PolicyActorDto {
  @ApiProperty({ type: AutoPromoteDto })
  @IsObject()
  @ValidateNested()
  @Type(() => AutoPromoteDto)
  autoPromote!: AutoPromoteDto;

  @ApiProperty({ type: DriftDto })
  @IsObject()
  @ValidateNested()
  @Type(() => DriftDto)
  drift!: DriftDto;
}
