import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsNotEmpty, IsObject, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { MAX_BACKTEST_KEYS, MAX_POINTS } from '../backtest/backtest-runner';

/** Body of `POST /v1/models/{name}/versions/{v}/backtest` (docs/backtest.md). */
export class BacktestDto {
  @ApiPropertyOptional({ description: 'range start, ISO-8601 or epoch ms (inclusive)' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  fromTime?: string;

  @ApiPropertyOptional({ description: 'range end, ISO-8601 or epoch ms (exclusive)' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  toTime?: string;

  @ApiPropertyOptional({ description: 'partition → first offset (inclusive)', type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  fromOffsets?: Record<string, string>;

  @ApiPropertyOptional({ description: 'partition → end offset (exclusive)', type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  toOffsets?: Record<string, string>;

  @ApiPropertyOptional({ type: [String], description: `replay only these keys and return their series (at most ${MAX_BACKTEST_KEYS}); absent: every key, no series` })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BACKTEST_KEYS)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  keys?: string[];

  @ApiPropertyOptional({ description: `points per key series, the last ones of the range (default 500, at most ${MAX_POINTS})` })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_POINTS)
  maxPoints?: number;

  @ApiPropertyOptional({ description: "the workers' MAX_EVENT_GAP_MS (default 0: off)" })
  @IsOptional()
  @IsInt()
  @Min(0)
  maxGapMs?: number;

  @ApiPropertyOptional({ description: "the workers' ALLOWED_LATENESS_MS (default 0; -1: off)" })
  @IsOptional()
  @IsInt()
  @Min(-1)
  allowedLatenessMs?: number;
}
