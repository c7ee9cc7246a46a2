/**
 * The trainer CLI (dist/apps/trainer/src/cli.js) follows the admin API's rules, through the same
 * services: `train` inherits the parameters of the version it replaces and holds the model lock
 * (a job running elsewhere refuses it), and neither `train` nor `import` changes a model's task.
 * Real Redis of the e2e harness; no Kafka needed (`--activate never`, imports not activated).
 */
import { execFile } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { InMemoryModelEventPublisher, ModelRegistry } from '@app/registry';
import type { RedisLike } from '@app/state';
import { JobStore } from '../apps/trainer/src/jobs/job-store';
import { REPO_ROOT, e2eStack, testRedisClient, uniqueSuffix } from './support/e2e-env';

const CLI = path.join(REPO_ROOT, 'dist/apps/trainer/src/cli.js');
const run = promisify(execFile);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('trainer CLI on the admin API rules', () => {
  const s = uniqueSuffix();
  const forecaster = `cli-forecast-${s}`;
  const classifier = `cli-classify-${s}`;
  let redis: RedisLike;
  let registry: ModelRegistry;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  async function cli(...args: string[]): Promise<CliResult> {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env, timeout: 120_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  beforeAll(() => {
    const stack = e2eStack();
    env = { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: stack.redisUrl };
    redis = testRedisClient(stack);
    registry = new ModelRegistry(redis, new InMemoryModelEventPublisher());
    dir = mkdtempSync(path.join(tmpdir(), 'trainer-cli-'));
    const readings = ['sensorId,ts,value'];
    for (let i = 0; i < 120; i++) readings.push(`p1,${1_795_000_000_000 + i * 60_000},${(20 + 5 * Math.sin(i / 5)).toFixed(4)}`);
    writeFileSync(path.join(dir, 'readings.csv'), readings.join('\n'));
    const texts = ['text,label'];
    for (let i = 0; i < 40; i++) texts.push(i % 2 ? `good great item ${i},pos` : `bad awful item ${i},neg`);
    writeFileSync(path.join(dir, 'texts.csv'), texts.join('\n'));
  });

  afterAll(async () => {
    await redis?.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('train: a retrain inherits the replaced version parameters; another task is refused', async () => {
    const file = path.join(dir, 'readings.csv');
    const first = await cli('train', '--model', forecaster, '--task', 'forecast', '--file', file, '--activate', 'never', '--epochs', '1', '--hidden-units', '6', '--window', '8');
    expect({ code: first.code, stderr: first.code === 0 ? '' : first.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(first.stdout)).toMatchObject({ model: forecaster, version: 1, paramsFrom: null });

    // Only --epochs given: units and window come from version 1, as a retrain through the API.
    const second = await cli('train', '--model', forecaster, '--task', 'forecast', '--file', file, '--activate', 'never', '--epochs', '1');
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ version: 2, paramsFrom: 1 });
    expect((await registry.getVersion(forecaster, 2))!.params).toMatchObject({ hiddenUnits: 6, window: 8, epochs: 1 });

    const wrongTask = await cli('train', '--model', forecaster, '--task', 'classify', '--file', path.join(dir, 'texts.csv'), '--activate', 'never');
    expect(wrongTask.code).toBe(2);
    expect(wrongTask.stderr).toContain("task must be forecast (the model's task)");
    expect((await registry.getModel(forecaster))!.versions).toHaveLength(2);
  });

  it('train: refused while the model lock is held by a running job, and runs once it is released', async () => {
    const store = new JobStore(redis);
    expect(await store.tryLock(forecaster, 'job-held-elsewhere', 60_000)).toBe(true);
    try {
      const refused = await cli('train', '--model', forecaster, '--task', 'forecast', '--file', path.join(dir, 'readings.csv'), '--activate', 'never', '--epochs', '1');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`a training job for model ${forecaster} is already running (job-held-elsewhere)`);
      expect((await registry.getModel(forecaster))!.versions).toHaveLength(2);
    } finally {
      await store.unlock(forecaster, 'job-held-elsewhere');
    }
    const after = await cli('train', '--model', forecaster, '--task', 'forecast', '--file', path.join(dir, 'readings.csv'), '--activate', 'never', '--epochs', '1');
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ version: 3 });
    // The CLI released its own lock.
    expect(await store.lockHolder(forecaster)).toBeNull();
  });

  it("import: an artifact of another task than the model's is refused; one of its task is stored", async () => {
    const trained = await cli('train', '--model', classifier, '--task', 'classify', '--file', path.join(dir, 'texts.csv'), '--activate', 'never', '--epochs', '1', '--vocab-size', '50', '--maxlen', '6', '--embedding-dim', '4', '--hidden-units', '4');
    expect({ code: trained.code, stderr: trained.code === 0 ? '' : trained.stderr }).toEqual({ code: 0, stderr: '' });
    // The forecaster's version 1 as files on disk: a valid artifact, but a forecaster.
    const artifact = mkdtempSync(path.join(dir, 'artifact-'));
    for (const [name, data] of await registry.loadVersionFiles(forecaster, 1)) writeFileSync(path.join(artifact, name), data);

    const refused = await cli('import', '--model', classifier, '--dir', artifact);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("task must be classify (the model's task)");
    expect((await registry.getModel(classifier))!.versions).toHaveLength(1);

    const accepted = await cli('import', '--model', forecaster, '--dir', artifact);
    expect(accepted.code).toBe(0);
    expect(JSON.parse(accepted.stdout)).toMatchObject({ model: forecaster, version: 4, task: 'forecast', active: null });
  });
});
