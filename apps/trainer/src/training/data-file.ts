import { constants, type Stats } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * A file training source that may not be read: outside the data directory, not a regular file,
 * missing, too large, or file sources disabled. The message names `source.path` and says why.
 */
export class DataFileError extends Error {
  constructor(message: string) {
    super(`source.path ${message}`);
    this.name = 'DataFileError';
  }
}

/** True when `child` is `dir` itself or lies below it, compared by whole path segments. */
export function isWithin(dir: string, child: string): boolean {
  const rel = relative(dir, child);
  if (rel === '') return true;
  if (isAbsolute(rel)) return false;
  return rel.split(sep)[0] !== '..';
}

function describe(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Request-time confinement of a file source: `requested` (relative paths resolve against
 * `dataDir`) with every symlink resolved must be a regular file inside the real `dataDir`,
 * no larger than `maxBytes`. Returns the real path the job is to open. The job opens it again with
 * {@link readDataFile}, which checks the opened file, so a swap after this check cannot escape.
 */
export async function resolveDataFile(dataDir: string | null, requested: string, maxBytes: number): Promise<string> {
  if (dataDir === null) throw new DataFileError('is refused: file sources need TRAINER_DATA_DIR to be set');
  if (requested.includes('\0')) throw new DataFileError('must not contain NUL bytes');
  const root = await realDataDir(dataDir);
  let real: string;
  try {
    real = await realpath(resolve(root, requested));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataFileError(code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist under TRAINER_DATA_DIR' : `cannot be resolved (${code ?? 'error'})`);
  }
  if (!isWithin(root, real) || real === root) throw new DataFileError('must resolve (symlinks followed) to a file inside TRAINER_DATA_DIR');
  const st = await stat(real);
  if (!st.isFile()) throw new DataFileError(`must be a regular file (it is ${describe(st)})`);
  if (st.size > maxBytes) throw new DataFileError(`is ${st.size} bytes, over TRAINER_MAX_DATA_BYTES (${maxBytes})`);
  return real;
}

async function realDataDir(dataDir: string): Promise<string> {
  try {
    return await realpath(dataDir);
  } catch (err) {
    throw new DataFileError(`cannot be read: TRAINER_DATA_DIR (${dataDir}) is not accessible (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * Reads a file source inside a job. Opens without following a final symlink and without blocking
 * on a FIFO, then checks the opened file itself: a regular file, whose real path (from
 * /proc/self/fd) lies inside the real `dataDir`, of at most `maxBytes`. Reads no more than the
 * size it had when checked.
 */
export async function readDataFile(dataDir: string | null, path: string, maxBytes: number): Promise<string> {
  if (dataDir === null) throw new DataFileError('is refused: file sources need TRAINER_DATA_DIR to be set');
  const root = await realDataDir(dataDir);
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataFileError(code === 'ELOOP' ? 'was replaced by a symlink after the request was accepted' : `cannot be opened (${code ?? 'error'})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new DataFileError(`must be a regular file (it is ${describe(st)})`);
    const opened = await realpath(`/proc/self/fd/${fh.fd}`);
    if (!isWithin(root, opened)) throw new DataFileError('resolved outside TRAINER_DATA_DIR when opened (it was moved or replaced)');
    if (st.size > maxBytes) throw new DataFileError(`is ${st.size} bytes, over TRAINER_MAX_DATA_BYTES (${maxBytes})`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    await fh.close();
  }
}
