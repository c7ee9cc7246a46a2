import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { envDocProblems, parseEnvTables } from '@app/config';
import { TRAINER_ENV } from './trainer-config';

const ROOT = join(__dirname, '..', '..', '..', '..');
const tables = (file: string) => parseEnvTables(readFileSync(join(ROOT, file), 'utf8'));

describe('the trainer environment tables agree with TRAINER_ENV', () => {
  it('apps/trainer/README.md: every variable, both ways, with its default', () => {
    const rows = tables('apps/trainer/README.md');
    expect(rows.length).toBeGreaterThan(10);
    expect(envDocProblems(TRAINER_ENV, rows)).toEqual([]);
  });

  it('README.md: the rows of the trainer (app trainer or both), both ways, with their defaults', () => {
    const rows = tables('README.md').filter((r) => r.app === 'trainer' || r.app === 'both');
    expect(rows.length).toBeGreaterThan(10);
    expect(envDocProblems(TRAINER_ENV, rows)).toEqual([]);
  });
});
