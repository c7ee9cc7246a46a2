import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';

import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';

/** Where the training data comes from. */
export class TrainSourceDto {
  @ApiProperty({ enum: ['kafka', 'file', 'upload'] })
  @IsIn(['kafka', 'file', 'upload'])
  kind!: 'kafka' | 'file' | 'upload';

  @ApiPropertyOptional({ description: 'kafka: topic to read (sensor.readings or text.events)' })
  @ValidateIf((o: TrainSourceDto) => o.kind === 'kafka')
  @IsString()
  @IsNotEmpty()
  @MaxLength(249)
  topic?: string;

  @ApiPropertyOptional({ description: 'kafka, text: topic with {streamId,label} or {text,label} messages' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(249)
  labelsTopic?: string;

  @ApiPropertyOptional({ description: 'kafka: range start, ISO-8601 or epoch ms (inclusive)' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  fromTime?: string;

  @ApiPropertyOptional({ description: 'kafka: range end, ISO-8601 or epoch ms (exclusive)' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  toTime?: string;

  @ApiPropertyOptional({ description: 'kafka: partition → first offset (inclusive)', type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  fromOffsets?: Record<string, string>;

  @ApiPropertyOptional({ description: 'kafka: partition → end offset (exclusive)', type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  toOffsets?: Record<string, string>;

  @ApiPropertyOptional({ description: 'file: path of a CSV/JSONL regular file inside TRAINER_DATA_DIR (relative paths resolve against it)' })
  @ValidateIf((o: TrainSourceDto) => o.kind === 'file')
  @IsString()
  @IsNotEmpty()
  @MaxLength(4096)
  path?: string;

  @ApiPropertyOptional({ description: 'upload: the file content (CSV or JSONL text)' })
  @ValidateIf((o: TrainSourceDto) => o.kind === 'upload')
  @IsString()
  @IsNotEmpty()
  content?: string;

  @ApiPropertyOptional({ enum: ['csv', 'jsonl'] })
  @IsOptional()
  @IsIn(['csv', 'jsonl'])
  format?: 'csv' | 'jsonl';
}

/** POST /v1/models/{name}/retrain. */
export class RetrainDto {
  @ApiPropertyOptional({ enum: ['forecast', 'classify'], description: 'required for a model without versions' })
  @IsOptional()
  @IsIn(['forecast', 'classify'])
  task?: 'forecast' | 'classify';

  @ApiProperty({ type: TrainSourceDto })
  @IsObject()
  @ValidateNested()
  @Type(() => TrainSourceDto)
  source!: TrainSourceDto;

  @ApiPropertyOptional({ default: 32 }) @IsOptional() @IsInt() @Min(1) @Max(1024) hiddenUnits?: number;
  @ApiPropertyOptional({ default: 1 }) @IsOptional() @IsInt() @Min(1) @Max(4) layers?: number;
  @ApiPropertyOptional({ default: 10 }) @IsOptional() @IsInt() @Min(1) @Max(1000) epochs?: number;
  @ApiPropertyOptional({ default: 32 }) @IsOptional() @IsInt() @Min(1) @Max(65536) batchSize?: number;
  @ApiPropertyOptional({ default: 0.005 }) @IsOptional() @IsNumber() @Min(1e-6) @Max(1) learningRate?: number;
  @ApiPropertyOptional({ default: 0.2 }) @IsOptional() @IsNumber() @Min(0) @Max(0.9) validationSplit?: number;
  @ApiPropertyOptional({ default: 42 }) @IsOptional() @IsInt() @Min(0) @Max(2 ** 31 - 1) seed?: number;
  @ApiPropertyOptional({ default: 24, description: 'forecast: window length' }) @IsOptional() @IsInt() @Min(1) @Max(10000) window?: number;
  @ApiPropertyOptional({ default: 1, description: 'forecast: horizon' }) @IsOptional() @IsInt() @Min(1) @Max(1000) horizon?: number;
  @ApiPropertyOptional({ default: 32, description: 'classify: embedding size' }) @IsOptional() @IsInt() @Min(1) @Max(1024) embeddingDim?: number;
  @ApiPropertyOptional({ default: 1000, description: 'classify: num_words' }) @IsOptional() @IsInt() @Min(3) @Max(1000000) vocabSize?: number;
  @ApiPropertyOptional({ default: 0, description: 'classify: padded length (0 = longest, max 100)' }) @IsOptional() @IsInt() @Min(0) @Max(10000) maxlen?: number;
  @ApiPropertyOptional({ enum: ['window', 'stream'], description: "classify: how the worker reads a key's stream (default: that of the trainer-trained version it replaces, else 'stream')" }) @IsOptional() @IsIn(['window', 'stream']) textMode?: 'window' | 'stream';

  @ApiPropertyOptional({ enum: ['if-better', 'always', 'never'], default: 'if-better' })
  @IsOptional()
  @IsIn(['if-better', 'always', 'never'])
  activate?: 'if-better' | 'always' | 'never';

  @ApiPropertyOptional({ enum: ['reset', 'rewarm', 'keep'], default: 'reset', description: 'swap policy recorded with the version' })
  @IsOptional()
  @IsIn(['reset', 'rewarm', 'keep'])
  policy?: 'reset' | 'rewarm' | 'keep';
}

/** POST /v1/models/{name}/versions/{v}/activate. */
export class ActivateDto {
  @ApiPropertyOptional({ enum: ['reset', 'rewarm', 'keep'] })
  @IsOptional()
  @IsIn(['reset', 'rewarm', 'keep'])
  policy?: 'reset' | 'rewarm' | 'keep';
}

/** A forecaster's StandardScaler: one mean and one scale per feature. */
export class ScalerDto {
  @ApiProperty({ type: [Number] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1024)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { each: true })
  mean!: number[];

  @ApiProperty({ type: [Number] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1024)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { each: true })
  scale!: number[];
}

/**
 * POST /v1/models/{name}/versions. JSON form: these fields with `files` as base64; multipart: the
 * same fields as form fields plus file parts. Unknown fields are refused (400 naming them).
 */
export class ImportVersionDto {
  @ApiPropertyOptional({ enum: ['forecast', 'classify'], description: 'required unless a streamcell.json sidecar is among the files' })
  @IsOptional()
  @IsIn(['forecast', 'classify'])
  task?: 'forecast' | 'classify';

  @ApiPropertyOptional({
    description: 'file name → base64 content: model.json, weight shards, and streamcell.json or tokenizer.json',
    type: 'object',
    additionalProperties: { type: 'string', format: 'byte' },
  })
  @IsOptional()
  @IsObject()
  files?: Record<string, string>;

  @ApiPropertyOptional({ type: [String], description: 'classify: label names by output index (multipart: JSON array or comma list)' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100_000)
  @IsString({ each: true })
  @MaxLength(256, { each: true })
  labels?: string[];

  @ApiPropertyOptional({ description: 'classify: padded sequence length used in training' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  maxlen?: number;

  @ApiPropertyOptional({ enum: ['pre', 'post'], description: "classify: pad_sequences padding of the training rows (default 'pre')" })
  @IsOptional()
  @IsIn(['pre', 'post'])
  padding?: 'pre' | 'post';

  @ApiPropertyOptional({ enum: ['window', 'stream'], description: "classify: how the worker reads a key's stream (default 'window')" })
  @IsOptional()
  @IsIn(['window', 'stream'])
  textMode?: 'window' | 'stream';

  @ApiPropertyOptional({ type: () => ScalerDto, description: 'forecast: scaler {mean:[], scale:[]} (multipart: JSON)' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ScalerDto)
  scaler?: ScalerDto;

  @ApiPropertyOptional({ description: 'forecast: window length used in training' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  window?: number;

  @ApiPropertyOptional({ enum: ['reset', 'rewarm', 'keep'] })
  @IsOptional()
  @IsIn(['reset', 'rewarm', 'keep'])
  policy?: 'reset' | 'rewarm' | 'keep';

  @ApiPropertyOptional({ description: 'activate the imported version right away (multipart: true or false)' })
  @IsOptional()
  @IsBoolean()
  activate?: boolean;

  @ApiPropertyOptional({ description: 'free-form note stored in the version params' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  note?: string;
}
