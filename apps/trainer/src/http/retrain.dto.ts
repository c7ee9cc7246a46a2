import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';

/** Multipart form fields arrive as strings: parse JSON (arrays, objects), keep anything else. */
function jsonField({ value }: { value: unknown }): unknown {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (t.startsWith('[') || t.startsWith('{')) {
    try {
      return JSON.parse(t);
    } catch {
      return value;
    }
  }
  return value;
}

function numberField({ value }: { value: unknown }): unknown {
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
}
import {
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
  topic?: string;

  @ApiPropertyOptional({ description: 'kafka, text: topic with {streamId,label} or {text,label} messages' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  labelsTopic?: string;

  @ApiPropertyOptional({ description: 'kafka: range start, ISO-8601 or epoch ms (inclusive)' })
  @IsOptional()
  @IsString()
  fromTime?: string;

  @ApiPropertyOptional({ description: 'kafka: range end, ISO-8601 or epoch ms (exclusive)' })
  @IsOptional()
  @IsString()
  toTime?: string;

  @ApiPropertyOptional({ description: 'kafka: partition → first offset (inclusive)', type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  fromOffsets?: Record<string, string>;

  @ApiPropertyOptional({ description: 'kafka: partition → end offset (exclusive)', type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  toOffsets?: Record<string, string>;

  @ApiPropertyOptional({ description: 'file: path of a CSV/JSONL file the trainer can read' })
  @ValidateIf((o: TrainSourceDto) => o.kind === 'file')
  @IsString()
  @IsNotEmpty()
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
  @ApiPropertyOptional({ enum: ['window', 'stream'], description: "classify: how the worker reads a key's stream (default: the parent version's, else 'stream')" }) @IsOptional() @IsIn(['window', 'stream']) textMode?: 'window' | 'stream';

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

/** POST /v1/models/{name}/versions (JSON form; multipart sends the same fields plus file parts). */
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
  @Transform(({ value }) => {
    const v = jsonField({ value });
    return typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
  })
  @IsString({ each: true })
  labels?: string[];

  @ApiPropertyOptional({ description: 'classify: padded sequence length used in training' })
  @IsOptional()
  @Transform(numberField)
  @IsInt()
  @Min(1)
  maxlen?: number;

  @ApiPropertyOptional({ enum: ['pre', 'post'], description: "classify: pad_sequences padding of the training rows (default 'pre')" })
  @IsOptional()
  @IsIn(['pre', 'post'])
  padding?: 'pre' | 'post';

  @ApiPropertyOptional({ enum: ['window', 'stream'], description: "classify: how the worker reads a key's stream (default 'window')" })
  @IsOptional()
  @IsIn(['window', 'stream'])
  textMode?: 'window' | 'stream';

  @ApiPropertyOptional({ description: 'forecast: scaler {mean:[], scale:[]}' })
  @IsOptional()
  @Transform(jsonField)
  @IsObject()
  scaler?: { mean: number[]; scale: number[] };

  @ApiPropertyOptional({ description: 'forecast: window length used in training' })
  @IsOptional()
  @Transform(numberField)
  @IsInt()
  @Min(1)
  window?: number;

  @ApiPropertyOptional({ enum: ['reset', 'rewarm', 'keep'] })
  @IsOptional()
  @IsIn(['reset', 'rewarm', 'keep'])
  policy?: 'reset' | 'rewarm' | 'keep';

  @ApiPropertyOptional({ description: 'activate the imported version right away' })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  activate?: boolean;

  @ApiPropertyOptional({ description: 'free-form note stored in the version params' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  note?: string;
}
