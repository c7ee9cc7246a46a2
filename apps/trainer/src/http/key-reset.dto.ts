import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsString } from 'class-validator';
import { MAX_RESET_KEYS } from '../services/key-reset.service';

/** Body of `POST /v1/models/{name}/keys/reset`. */
export class ResetKeysDto {
  @ApiProperty({ type: [String], description: `keys to reset (1..${MAX_RESET_KEYS}, distinct, at most 256 UTF-8 bytes each)` })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_RESET_KEYS)
  @IsString({ each: true })
  keys!: string[];
}
