/**
 * Policy and action log API, end to end: the production trainer on the run's Kafka and Redis,
 * models seeded in the registry, then `PUT/GET/DELETE /v1/models/{name}/policy`, pause and
 * resume, and `GET /v1/models/{name}/actions`: what is stored (defaults filled in, the topic
 * resolved), who did what and why in the log, in order, paged, and bounded (entries appended by
 * the control loop's store with a small cap read back through the API), and a 4xx naming the
 * field for every bad body or query.
 */
import { PolicyStore, type ModelPolicy, type PolicyAction } from '@app/registry';
import { DUAL_FORECASTER } from './support/dual-run';
import { e2eStack, testRedisClient, uniqueName } from './support/e2e-env';
import { TestRegistry } from './support/model-fixtures';
import { TestKafka } from './support/test-kafka';
import { TrainerProcess, trainerEnv } from './support/trainer-process';
import { suiteTopics } from './support/worker-process';

type Json = Record<string, unknown>;

/** A complete, valid policy body (the retrain topic given: the seeded versions are imports). */
function goodPolicy(topic: string): Json {
  return {
    autoPromote: { margin: 0.1, minEvents: 200 },
    drift: { threshold: 1.5, windowEvents: 500, retrain: { historyMs: 3_600_000, topic, epochs: 3, window: 12 } },
  };
}

describe('policy API: per-model policy, pause switch and action log', () => {
  const stack = e2eStack();
  const suffix = uniqueName('pol');
  const topics = suiteTopics(suffix);
  const modelName = `forecaster-${suffix}`;
  const loggedModel = `logged-${suffix}`;
  const token = `token-${suffix}-0123456789`;
  const kafka = new TestKafka(stack.brokers, suffix);
  let registry: TestRegistry;
  let trainer: TrainerProcess | null = null;

  const api = async (method: string, path: string, body?: unknown, auth = true): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${trainer!.base}${path}`, {
      method,
      headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
  };
  /** The messages of a 400 (the validation pipe's list, or one message). */
  const messages = (b: Json): string => (Array.isArray(b.message) ? b.message.join(' | ') : String(b.message));

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(topics, { sensor: 1, text: 1, forecasts: 1, classes: 1, dlq: 1 });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, topics.models);
    await registry.seed(modelName, DUAL_FORECASTER, { window: 10 });
    await registry.seed(loggedModel, DUAL_FORECASTER, { window: 10 });
    trainer = await TrainerProcess.launch(uniqueName('policy-trainer'), trainerEnv(stack, token, topics.models, {
      TRAINER_SOURCE_TOPICS: topics.sensor,
      TRAINER_INSTANCE_ID: uniqueName('policy'),
    }));
  });

  afterAll(async () => {
    await trainer?.stop();
    await kafka.disconnect();
    await registry?.close();
  });

  it('refuses requests without the admin token, and policies of unknown models', async () => {
    expect((await api('GET', `/v1/models/${modelName}/policy`, undefined, false)).status).toBe(401);
    expect((await api('PUT', `/v1/models/${modelName}/policy`, goodPolicy(topics.sensor), false)).status).toBe(401);
    expect((await api('POST', `/v1/models/${modelName}/policy/pause`, {}, false)).status).toBe(401);
    expect((await api('GET', `/v1/models/${modelName}/actions`, undefined, false)).status).toBe(401);
    const none = await api('GET', `/v1/models/${modelName}/policy`);
    expect(none.status).toBe(404);
    expect(messages(none.body)).toMatch(/has no policy/);
    const unknown = await api('PUT', `/v1/models/nosuch-${suffix}/policy`, goodPolicy(topics.sensor));
    expect(unknown.status).toBe(404);
    expect((await api('POST', `/v1/models/${modelName}/policy/pause`, {})).status).toBe(404);
  });

  it('answers a 400 naming the field for each bad policy', async () => {
    const good = goodPolicy(topics.sensor) as { autoPromote: Json; drift: Json & { retrain: Json } };
    const cases: [string, Json, RegExp][] = [
      ['margin out of range', { ...good, autoPromote: { ...good.autoPromote, margin: 1.5 } }, /autoPromote\.margin/],
      ['minEvents missing', { ...good, autoPromote: { margin: 0.1 } }, /autoPromote\.minEvents/],
      ['threshold below 1', { ...good, drift: { ...good.drift, threshold: 0.5 } }, /drift\.threshold/],
      ['metric unknown', { ...good, drift: { ...good.drift, metric: 'mape' } }, /drift\.metric/],
      ['no window end', { ...good, drift: { threshold: 2, retrain: good.drift.retrain } }, /drift\.windowEvents or drift\.windowMs/],
      ['minEvents over the window', { ...good, drift: { ...good.drift, windowEvents: 10, minEvents: 20 } }, /drift\.minEvents \(20\) must be at most drift\.windowEvents \(10\)/],
      ['historyMs missing', { ...good, drift: { ...good.drift, retrain: { topic: topics.sensor } } }, /drift\.retrain\.historyMs/],
      ['epochs zero', { ...good, drift: { ...good.drift, retrain: { ...good.drift.retrain, epochs: 0 } } }, /drift\.retrain\.epochs/],
      ['unknown retrain field', { ...good, drift: { ...good.drift, retrain: { ...good.drift.retrain, activate: 'always' } } }, /activate should not exist/],
      ['topic not allowed', { ...good, drift: { ...good.drift, retrain: { ...good.drift.retrain, topic: 'elsewhere' } } }, /drift\.retrain\.topic elsewhere is not a training source topic/],
      ['topic missing for an imported model', { ...good, drift: { ...good.drift, retrain: { historyMs: 60_000 } } }, /drift\.retrain\.topic is required: v1 was not trained from a Kafka topic/],
      ['actor not a plain name', { ...good, by: 'a b' }, /by must be/],
      ['drift missing', { autoPromote: good.autoPromote }, /drift/],
    ];
    for (const [what, body, field] of cases) {
      const res = await api('PUT', `/v1/models/${modelName}/policy`, body);
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expect({ what, message: messages(res.body) }).toEqual({ what, message: expect.stringMatching(field) });
    }
    const notJson = await fetch(`${trainer!.base}/v1/models/${modelName}/policy`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: 'x' });
    expect(notJson.status).toBe(415);
    // Nothing was stored by any refused request.
    expect((await api('GET', `/v1/models/${modelName}/policy`)).status).toBe(404);
  });

  it('stores a policy with its defaults, pauses and resumes it, and logs who did what and why, newest first', async () => {
    const set = await api('PUT', `/v1/models/${modelName}/policy`, { ...goodPolicy(topics.sensor), by: 'alice', reason: 'watch pump drift' });
    expect(set.status).toBe(200);
    const stored = set.body as unknown as ModelPolicy;
    expect(stored).toMatchObject({
      model: modelName,
      paused: false,
      revision: 1,
      updatedBy: 'operator:alice',
      autoPromote: { enabled: true, margin: 0.1, minEvents: 200, warmupEvents: 0 },
      drift: {
        enabled: true,
        metric: 'mae',
        threshold: 1.5,
        windowEvents: 500,
        minEvents: 50,
        consecutiveWindows: 2,
        cooldownMs: 600_000,
        retrain: { historyMs: 3_600_000, topic: topics.sensor, epochs: 3, window: 12 },
      },
    });
    expect(Object.keys(stored.drift.retrain).sort()).toEqual(['epochs', 'historyMs', 'topic', 'window']);
    expect((await api('GET', `/v1/models/${modelName}/policy`)).body).toEqual(set.body);

    const paused = await api('POST', `/v1/models/${modelName}/policy/pause`, { by: 'bob', reason: 'maintenance on line 3' });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, revision: 2, updatedBy: 'operator:bob' });
    const resumed = await api('POST', `/v1/models/${modelName}/policy/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ paused: false, revision: 3, updatedBy: 'operator' });
    expect((await api('GET', `/v1/models/${modelName}/policy`)).body).toMatchObject({ paused: false, revision: 3 });

    const log = await api('GET', `/v1/models/${modelName}/actions`);
    expect(log.status).toBe(200);
    const actions = log.body.actions as PolicyAction[];
    expect(actions.map((a) => [a.action, a.by, a.reason])).toEqual([
      ['resumed', 'operator', 'resumed through the admin API'],
      ['paused', 'operator:bob', 'maintenance on line 3'],
      ['policy_set', 'operator:alice', 'watch pump drift'],
    ]);
    for (const a of actions) {
      expect(a.model).toBe(modelName);
      expect(Number.isFinite(Date.parse(a.at))).toBe(true);
    }
    const times = actions.map((a) => Date.parse(a.at));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    expect(log.body.next).toBeNull();

    const removed = await api('DELETE', `/v1/models/${modelName}/policy`);
    expect(removed.status).toBe(204);
    expect((await api('GET', `/v1/models/${modelName}/policy`)).status).toBe(404);
    expect((await api('DELETE', `/v1/models/${modelName}/policy`)).status).toBe(404);
    const after = (await api('GET', `/v1/models/${modelName}/actions?limit=1`)).body.actions as PolicyAction[];
    expect(after.map((a) => a.action)).toEqual(['policy_deleted']);
  });

  it('pages the log and keeps only the newest entries the store is capped at', async () => {
    const redis = testRedisClient(stack.redisUrl);
    try {
      // The control loop's store writes the entries; the trainer reads them back.
      const loopStore = new PolicyStore(redis, { maxActions: 5 });
      for (let i = 1; i <= 12; i++) {
        await loopStore.append(loggedModel, { action: 'skipped', by: 'policy:test', reason: `entry ${i}`, version: 1, evidence: { i } });
      }
      const first = await api('GET', `/v1/models/${loggedModel}/actions?limit=3`);
      expect((first.body.actions as PolicyAction[]).map((a) => a.reason)).toEqual(['entry 12', 'entry 11', 'entry 10']);
      expect((first.body.actions as PolicyAction[])[0]).toMatchObject({ action: 'skipped', by: 'policy:test', version: 1, evidence: { i: 12 } });
      const next = first.body.next as string;
      expect(next).toBe((first.body.actions as PolicyAction[])[2].id);
      const second = await api('GET', `/v1/models/${loggedModel}/actions?limit=3&before=${encodeURIComponent(next)}`);
      expect((second.body.actions as PolicyAction[]).map((a) => a.reason)).toEqual(['entry 9', 'entry 8']);
      expect(second.body.next).toBeNull();
    } finally {
      redis.disconnect();
    }
  });

  it('answers a 400 naming the parameter for a bad log query', async () => {
    for (const [query, field] of [
      ['limit=0', /limit must be an integer from 1 to 500/],
      ['limit=501', /limit must be an integer/],
      ['before=abc', /before must be an action id/],
      ['from=1', /from is not a parameter of this route/],
      ['limit=2&limit=3', /limit must be given once/],
    ] as const) {
      const res = await api('GET', `/v1/models/${loggedModel}/actions?${query}`);
      expect({ query, status: res.status, message: messages(res.body) }).toEqual({ query, status: 400, message: expect.stringMatching(field) });
    }
  });
});
