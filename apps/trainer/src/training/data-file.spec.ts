import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataFileError, isWithin, readDataFile, resolveDataFile } from './data-file';

describe('file source confinement', () => {
  let root: string;
  let data: string;
  let outside: string;
  const MAX = 1024 * 1024;

  beforeAll(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'data-file-')));
    data = join(root, 'data');
    outside = join(root, 'data-sibling'); // shares a text prefix with the data directory
    mkdirSync(join(data, 'sub'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(data, 'ok.csv'), 'sensorId,ts,value\na,1,2\n');
    writeFileSync(join(data, 'sub', 'nested.csv'), 'x');
    writeFileSync(join(outside, 'canary.csv'), 'secret');
    writeFileSync(join(data, 'big.csv'), Buffer.alloc(MAX + 1, 0x41));
    symlinkSync(join(outside, 'canary.csv'), join(data, 'to-file'));
    symlinkSync(outside, join(data, 'to-dir'));
    symlinkSync('../data-sibling/canary.csv', join(data, 'relative'));
    symlinkSync(join(data, 'to-file'), join(data, 'chained'));
    symlinkSync(join(data, 'ok.csv'), join(data, 'inside-link'));
    symlinkSync('/dev/zero', join(data, 'zero'));
    symlinkSync('/proc/self/environ', join(data, 'environ'));
    symlinkSync(join(data, 'loop'), join(data, 'loop'));
    execFileSync('mkfifo', [join(data, 'fifo')]);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const refused = async (p: string, dir: string | null = data): Promise<string> => {
    try {
      await resolveDataFile(dir, p, MAX);
    } catch (err) {
      expect(err).toBeInstanceOf(DataFileError);
      return (err as Error).message;
    }
    throw new Error(`${p} was accepted`);
  };

  it('compares by path segments, not by text', () => {
    expect(isWithin('/srv/data', '/srv/data/a.csv')).toBe(true);
    expect(isWithin('/srv/data', '/srv/data-sibling/a.csv')).toBe(false);
    expect(isWithin('/srv/data', '/srv/data/..x')).toBe(true);
    expect(isWithin('/srv/data', '/srv')).toBe(false);
  });

  it('resolves relative paths against the data directory and follows symlinks that stay inside', async () => {
    expect(await resolveDataFile(data, 'ok.csv', MAX)).toBe(join(data, 'ok.csv'));
    expect(await resolveDataFile(data, 'sub/../sub/nested.csv', MAX)).toBe(join(data, 'sub', 'nested.csv'));
    expect(await resolveDataFile(data, join(data, 'inside-link'), MAX)).toBe(join(data, 'ok.csv'));
  });

  it('refuses every way out, naming source.path', async () => {
    for (const p of ['to-file', 'to-dir/canary.csv', 'relative', 'chained', '../data-sibling/canary.csv', join(outside, 'canary.csv'), '/etc/passwd']) {
      expect(await refused(p)).toMatch(/^source\.path (must resolve .* inside TRAINER_DATA_DIR|does not exist under TRAINER_DATA_DIR)$/);
    }
    expect(await refused('zero')).toMatch(/^source\.path must resolve/);
    expect(await refused('environ')).toMatch(/^source\.path must resolve/);
    expect(await refused('fifo')).toBe('source.path must be a regular file (it is a FIFO)');
    expect(await refused('sub')).toBe('source.path must be a regular file (it is a directory)');
    expect(await refused('.')).toMatch(/inside TRAINER_DATA_DIR/);
    expect(await refused('loop')).toMatch(/^source\.path cannot be resolved \(ELOOP\)/);
    expect(await refused('missing.csv')).toBe('source.path does not exist under TRAINER_DATA_DIR');
    expect(await refused('ok.csv\0x')).toBe('source.path must not contain NUL bytes');
    expect(await refused('big.csv')).toBe(`source.path is ${MAX + 1} bytes, over TRAINER_MAX_DATA_BYTES (${MAX})`);
    expect(await refused('ok.csv', null)).toBe('source.path is refused: file sources need TRAINER_DATA_DIR to be set');
  });

  it('the job checks the file it opened: a swap to a symlink after the request-time check is refused', async () => {
    const p = await resolveDataFile(data, 'swap.csv', MAX).catch(() => join(data, 'swap.csv'));
    writeFileSync(p, 'a,b\n');
    const checked = await resolveDataFile(data, 'swap.csv', MAX);
    expect(await readDataFile(data, checked, MAX)).toBe('a,b\n');
    unlinkSync(p);
    symlinkSync(join(outside, 'canary.csv'), p);
    await expect(readDataFile(data, checked, MAX)).rejects.toThrow('source.path was replaced by a symlink after the request was accepted');
    unlinkSync(p);
    execFileSync('mkfifo', [p]);
    await expect(readDataFile(data, checked, MAX)).rejects.toThrow('source.path must be a regular file (it is a FIFO)');
    unlinkSync(p);
  });

  it('the job refuses a file whose directory was swapped for a symlink out of the data directory', async () => {
    mkdirSync(join(data, 'swapdir'));
    writeFileSync(join(data, 'swapdir', 'canary.csv'), 'inside');
    const checked = await resolveDataFile(data, 'swapdir/canary.csv', MAX);
    rmSync(join(data, 'swapdir'), { recursive: true });
    symlinkSync(outside, join(data, 'swapdir'));
    await expect(readDataFile(data, checked, MAX)).rejects.toThrow('source.path resolved outside TRAINER_DATA_DIR when opened (it was moved or replaced)');
  });

  it('the job refuses a file that grew past the data limit', async () => {
    await expect(readDataFile(data, join(data, 'big.csv'), MAX)).rejects.toThrow(`over TRAINER_MAX_DATA_BYTES (${MAX})`);
  });
});
