import { ArtifactIntegrityError, loadArtifact } from '@app/lstm';
import { sha256Hex } from './checksum';
import { ChecksumMismatchError, InvalidArtifactError } from './registry-errors';

/** File name of the streamcell sidecar inside an artifact. */
export const SIDECAR_FILE = 'streamcell.json';

/**
 * Finds the sidecar's record of file checksums. Accepts `files: {name: {sha256}}`,
 * `files: {name: "<hex>"}` or `sha256: {name: "<hex>"}`.
 */
function recordedChecksums(sidecar: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const field of ['files', 'sha256', 'checksums']) {
    const v = sidecar[field];
    if (!v || typeof v !== 'object' || Array.isArray(v)) continue;
    for (const [file, entry] of Object.entries(v as Record<string, unknown>)) {
      if (typeof entry === 'string') out.set(file, entry.toLowerCase());
      else if (entry && typeof entry === 'object' && typeof (entry as { sha256?: unknown }).sha256 === 'string') {
        out.set(file, (entry as { sha256: string }).sha256.toLowerCase());
      }
    }
  }
  return out;
}

/**
 * Checks an artifact before it is stored: `model.json` and the sidecar are present and parse,
 * and every checksum the sidecar records matches the supplied bytes.
 */
export function verifyArtifactFiles(files: ReadonlyMap<string, Buffer>): void {
  const sidecarBytes = files.get(SIDECAR_FILE);
  if (!sidecarBytes) throw new InvalidArtifactError(`artifact has no ${SIDECAR_FILE} sidecar`);
  if (!files.has('model.json')) throw new InvalidArtifactError('artifact has no model.json');
  let sidecar: unknown;
  try {
    sidecar = JSON.parse(sidecarBytes.toString('utf8'));
    JSON.parse(files.get('model.json')!.toString('utf8'));
  } catch (err) {
    throw new InvalidArtifactError(`artifact JSON does not parse: ${(err as Error).message}`);
  }
  if (!sidecar || typeof sidecar !== 'object') throw new InvalidArtifactError(`${SIDECAR_FILE} is not an object`);
  const recorded = recordedChecksums(sidecar as Record<string, unknown>);
  for (const [file, expected] of recorded) {
    if (file === SIDECAR_FILE) continue;
    const data = files.get(file);
    if (!data) throw new InvalidArtifactError(`${SIDECAR_FILE} lists ${file}, which is missing`);
    const sum = sha256Hex(data);
    if (sum !== expected) throw new ChecksumMismatchError(`${file}: sha256 ${sum} != sidecar ${expected}`);
  }
}

/**
 * Full check through @app/lstm's loadArtifact: the sidecar validates, every file it lists has
 * the recorded sha256, and the model maps onto the streaming engine and agrees with the sidecar.
 * A version that passes is one every worker can load.
 */
export async function verifyArtifact(files: ReadonlyMap<string, Buffer>): Promise<void> {
  verifyArtifactFiles(files);
  try {
    await loadArtifact(files);
  } catch (err) {
    if (err instanceof ArtifactIntegrityError) throw new ChecksumMismatchError(err.message);
    throw new InvalidArtifactError((err as Error).message);
  }
}

/**
 * The text mode a classify artifact's sidecar declares (`input.mode`, absent = 'stream'), for the
 * version's metadata; null for forecasters and sidecars that do not parse.
 */
export function sidecarTextMode(files: ReadonlyMap<string, Buffer>): 'window' | 'stream' | null {
  try {
    const s = JSON.parse(files.get(SIDECAR_FILE)?.toString('utf8') ?? 'null') as { task?: unknown; input?: { mode?: unknown } } | null;
    if (s?.task !== 'classify') return null;
    return s.input?.mode === 'window' ? 'window' : 'stream';
  } catch {
    return null;
  }
}
