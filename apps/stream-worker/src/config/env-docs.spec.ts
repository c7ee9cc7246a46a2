import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { envDocProblems, parseEnvTables } from '@app/config';
import { WORKER_ENV } from './worker-config';

const ROOT = join(__dirname, '..', '..', '..', '..');
const tables = (file: string) => parseEnvTables(readFileSync(join(ROOT, file), 'utf8'));

/** Read by `@app/lstm` itself (the engine's kernel choice), documented with the worker. */
const READ_BY_LIBRARIES = ['STREAMCELL_LSTM_KERNEL'];

describe('the worker environment tables agree with WORKER_ENV', () => {
  it('apps/stream-worker/README.md: every variable, both ways, with its default', () => {
    const rows = tables('apps/stream-worker/README.md');
    expect(rows.length).toBeGreaterThan(20);
    expect(envDocProblems(WORKER_ENV, rows, READ_BY_LIBRARIES)).toEqual([]);
  });

  it('README.md: the rows of the worker (app worker or both), both ways, with their defaults', () => {
    const rows = tables('README.md').filter((r) => r.app === 'worker' || r.app === 'both');
    expect(rows.length).toBeGreaterThan(15);
    expect(envDocProblems(WORKER_ENV, rows)).toEqual([]);
  });
});
