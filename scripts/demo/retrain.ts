/**
 * Demo retrain: after DEMO_RETRAIN_AFTER seconds, asks the trainer's admin API to retrain the
 * forecaster from the sensor topic's history and activate the result, then follows the job until
 * it ends. The live view shows the worker switching to the new version without a restart.
 *
 * Env: TRAINER_URL, ADMIN_TOKEN, FORECAST_MODEL, SENSOR_TOPIC, DEMO_RETRAIN_AFTER (seconds, 25).
 */
const url = process.env.TRAINER_URL ?? 'http://127.0.0.1:3001';
const token = process.env.ADMIN_TOKEN ?? '';
const model = process.env.FORECAST_MODEL ?? 'forecaster';
const topic = process.env.SENSOR_TOPIC ?? 'sensor.readings';
const after = Number(process.env.DEMO_RETRAIN_AFTER ?? 25);

const say = (msg: string): void => console.log(`\u001b[1;34m[demo] ${msg}\u001b[0m`);

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

async function main(): Promise<void> {
  let stopping = false;
  process.on('SIGTERM', () => (stopping = true));
  process.on('SIGINT', () => (stopping = true));
  for (let waited = 0; waited < after * 10 && !stopping; waited++)
    await new Promise((r) => setTimeout(r, 100));
  if (stopping) return;
  say(`retraining ${model} from ${topic} through the trainer (POST /v1/models/${model}/retrain)`);
  const started = await call('POST', `/v1/models/${encodeURIComponent(model)}/retrain`, {
    task: 'forecast',
    source: { kind: 'kafka', topic },
    hiddenUnits: 8,
    epochs: 4,
    window: 16,
    horizon: 3,
    activate: 'always',
    policy: 'rewarm',
  });
  if (started.status !== 202) {
    say(`retrain refused: HTTP ${started.status} ${JSON.stringify(started.json)}`);
    return;
  }
  const id = String(started.json.jobId ?? started.json.id);
  let last = '';
  while (!stopping) {
    await new Promise((r) => setTimeout(r, 1000));
    const job = await call('GET', `/v1/jobs/${encodeURIComponent(id)}`);
    const j = job.json as {
      status?: string;
      phase?: string;
      progress?: { epoch: number; epochs: number };
      result?: unknown;
      error?: unknown;
    };
    const status = j.status ?? 'unknown';
    const line = `job ${id}: ${status}${j.phase ? ` (${j.phase})` : ''}${j.progress ? ` epoch ${j.progress.epoch}/${j.progress.epochs}` : ''}`;
    if (line !== last) say(line);
    last = line;
    if (status === 'succeeded' || status === 'failed' || status === 'cancelled') {
      if (j.result !== undefined) say(`result: ${JSON.stringify(j.result).slice(0, 300)}`);
      if (j.error !== undefined && j.error !== null) say(`error: ${JSON.stringify(j.error).slice(0, 300)}`);
      return;
    }
  }
}

main().catch((err: unknown) => say(`retrain step failed: ${(err as Error).message}`));
