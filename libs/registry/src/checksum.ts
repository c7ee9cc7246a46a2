import { createHash } from 'node:crypto';

/** Lower-case hex sha256 of `data`. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
