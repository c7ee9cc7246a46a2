/**
 * Shadow version and warm promotion, through the trainer's admin API. Version 1 of a forecaster
 * serves; version 2 (other weights) is put in shadow; readings flow (the worker is SIGKILLed in
 * the middle and restarted); then version 2 is promoted with the `warm` policy and the rest of
 * the readings flow.
 *
 * The independent reference: a second worker serving only a model with version 2's weights, from
 * zero state, over an identical copy of the whole log (same partitions and offsets). Checked:
 * nothing of version 2 reached the forecasts topic before the promotion; the shadow's states sit
 * in their own namespace at the active states' positions; what the shadow published on
 * SHADOW_TOPIC equals the reference's forecasts of the same events, and the forecasts served by
 * version 2 after the promotion equal the reference's, bit for bit — as do the final states.
 */
import { shadowStateModel } from '@app/state';
import { uniqueName, waitFor } from './support/e2e-env';
import { DUAL_FORECASTER, DualRun } from './support/dual-run';
import { sensorEvents, textEvents, type GeneratedEvent } from './support/event-streams';
import type { ForecasterDef } from './support/model-fixtures';
import { allOffsets, checkCoverage, diffPredictionMaps, normalizedPredictions } from './support/prediction-checks';
import { compareStates } from './support/state-reader';
import { TrainerProcess, trainerEnv } from './support/trainer-process';
import type { Collector } from './support/test-kafka';

const PARTITIONS = 3;
const KEYS = 40;
const PER_KEY = 30;
/** Readings before the promotion (the rest come after it). */
const BEFORE = 800;
const V2: ForecasterDef = { ...DUAL_FORECASTER, seed: 13 };

interface Forecast {
  sensorId: string;
  modelVersion: string;
  source: { partition: number; offset: string };
}

describe('shadow version, warm promotion', () => {
  const run = new DualRun('sh', PARTITIONS);
  const shadowTopic = `sh-${run.s}.shadow`;
  const token = 'shadow-e2e-token-0123456789';
  let trainer: TrainerProcess;
  let shadowOut: Collector;

  const api = async (method: string, path: string, body?: object): Promise<{ status: number; body: Record<string, unknown> }> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body) headers['content-type'] = 'application/json';
    const res = await fetch(`${trainer.base}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    await run.setUp();
    await run.kafka.createTopics([{ topic: shadowTopic, partitions: 2 }]);
    // The served model: v1 (DUAL_FORECASTER, active) and v2 (other weights, not active). The
    // reference model: the same v2 weights as its active version 2, so both label them "2".
    await run.registry.seed(run.model.fc, V2, { activate: false });
    await run.registry.seed(run.model.refFc, V2);
    shadowOut = await run.kafka.collect([shadowTopic], `sh-${run.s}-shadow-collector`);
    trainer = await TrainerProcess.launch(uniqueName('shadow-trainer'), trainerEnv(run.stack, token, run.models, {
      TRAINER_INSTANCE_ID: uniqueName('shadow'),
    }));
  });

  afterAll(async () => {
    await trainer?.stop();
    await run.tearDown();
  });

  it('refuses bad shadow and promotion requests, naming what is wrong', async () => {
    const fc = run.model.fc;
    expect(await api('POST', `/v1/models/${fc}/versions/1/shadow`)).toMatchObject({ status: 409, body: { message: expect.stringMatching(/v1 is the active version/) } });
    expect((await api('POST', `/v1/models/${fc}/versions/9/shadow`)).status).toBe(404);
    expect(await api('POST', `/v1/models/${fc}/versions/x1/shadow`)).toMatchObject({ status: 400, body: { message: [expect.stringMatching(/^version must be/)] } });
    expect(await api('POST', `/v1/models/${fc}/versions/2/promote`)).toMatchObject({ status: 409, body: { message: expect.stringMatching(/not in shadow/) } });
    expect((await api('DELETE', `/v1/models/${fc}/shadow`)).status).toBe(404);
    expect((await api('POST', `/v1/models/bad%7Bname/versions/2/shadow`)).status).toBe(400);
    expect(await api('POST', `/v1/models/${fc}/versions/2/shadow`, { by: 'a b' })).toMatchObject({ status: 400, body: { message: [expect.stringMatching(/^by must be/)] } });
    expect(await api('POST', `/v1/models/${fc}/versions/2/promote`, { policy: 'warm' })).toMatchObject({ status: 400, body: { message: [expect.stringMatching(/policy should not exist/)] } });
  });

  it('steps v2 in shadow through a SIGKILL, then serves its warm state after the promotion', async () => {
    const fc = run.model.fc;
    const sensors = sensorEvents(`sh-sensor-${run.s}`, KEYS, PER_KEY, PARTITIONS, 17);
    const keys = [...new Set(sensors.map((e) => e.key))];
    const [before, after] = [sensors.slice(0, BEFORE), sensors.slice(BEFORE)];
    // A few text events too (served by the classifier alone), so that every input topic has a log to drain.
    const texts = textEvents(`sh-text-${run.s}`, 4, 5, PARTITIONS, 19);

    const put = await api('POST', `/v1/models/${fc}/versions/2/shadow`, { by: 'alice', reason: 'challenger from the nightly retrain' });
    expect(put).toMatchObject({ status: 200, body: { shadow: { version: 2 } } });
    expect((await api('GET', `/v1/models/${fc}`)).body).toMatchObject({ active: { version: 1 }, shadow: { version: 2 } });

    await run.produceReference(sensors, texts);
    const ref = run.worker('ref', true).start();
    const victim = run.worker('victim', false, { SHADOW_TOPIC: shadowTopic }).start();
    await Promise.all([ref.ready(), victim.ready()]);
    const health = JSON.parse((await victim.http('/health/ready')).body) as { models: { shadows: unknown } };
    expect(health.models.shadows).toEqual([{ model: fc, version: 2, loaded: true }]);

    // Readings before the promotion, with a SIGKILL while they flow.
    const feeding = run.feed(before.slice(0, BEFORE / 2), texts.slice(0, 10), 5, 100);
    await waitFor('the first forecasts', () => run.predicted() >= BEFORE / 5 || !victim.running, 120_000, 10);
    expect((await victim.stop('SIGKILL')).signal).toBe('SIGKILL');
    await feeding;
    victim.start();
    await victim.ready();
    await run.feed(before.slice(BEFORE / 2), texts.slice(10), 4, 100);
    await run.drain(180_000, [false, true]);

    // Nothing of v2 on the forecasts topic; v2's states in their own namespace, at v1's positions.
    const served = run.collector.json<Forecast>(run.side.forecasts);
    expect(served.length).toBeGreaterThanOrEqual(BEFORE);
    expect([...new Set(served.map((f) => f.modelVersion))]).toEqual(['1']);
    const shadowStates = await run.states.readMany(shadowStateModel(fc, 2), keys);
    const activeStates = await run.states.readMany(fc, keys);
    const eventsOf = (events: readonly GeneratedEvent[], key: string) => events.filter((e) => e.key === key).length;
    const stateProblems: string[] = [];
    keys.forEach((key, i) => {
      const s = shadowStates[i]?.record;
      const a = activeStates[i]?.record;
      if (!s || !a) return stateProblems.push(`${key}: shadow ${!!s}, active ${!!a}`);
      if (s.modelVersion !== '2' || a.modelVersion !== '1') stateProblems.push(`${key}: versions ${s.modelVersion}/${a.modelVersion}`);
      if (s.partition !== a.partition || s.offset !== a.offset) stateProblems.push(`${key}: shadow at ${s.partition}/${s.offset}, active at ${a.partition}/${a.offset}`);
      if (s.steps !== eventsOf(before, key)) stateProblems.push(`${key}: shadow ${s.steps} steps, ${eventsOf(before, key)} readings`);
    });
    expect(stateProblems).toEqual([]);

    // What the shadow computed (SHADOW_TOPIC) is v2's forecast of the same events from zero state.
    const sideEnds = await run.kafka.endOffsets(run.side.sensor);
    const shadowCoverage = checkCoverage(shadowOut.messages(shadowTopic), run.side.sensor, allOffsets(sideEnds));
    expect(shadowCoverage.missing).toEqual([]);
    expect(shadowCoverage.differingDuplicates).toEqual([]);
    const shadowPredictions = normalizedPredictions(shadowOut.messages(shadowTopic), run.side.sensor);
    const reference = normalizedPredictions(run.collector.messages(run.ref.forecasts), run.ref.sensor);
    const referenceOf = (ids: Iterable<string>) => new Map([...ids].map((id) => [id, reference.get(id) ?? '(none)']));
    expect(shadowPredictions.size).toBe(BEFORE);
    expect(diffPredictionMaps(shadowPredictions, referenceOf(shadowPredictions.keys()))).toEqual([]);

    // The shadow is scored like the active version, into its own (model, version) accumulator.
    type Accuracy = { versions: { version: number; events: number; mae: number | null; rmse: number | null; bias: number | null }[] };
    const accuracyOf = async (model: string, version: number) =>
      ((await api('GET', `/v1/models/${model}/accuracy`)).body as unknown as Accuracy).versions.find((v) => v.version === version)!;
    expect((await accuracyOf(fc, 2)).events).toBeGreaterThan(0);
    expect((await accuracyOf(fc, 1)).events).toBeGreaterThan(0);

    // Promotion: v2 active with the warm policy, no shadow left.
    const promoted = await api('POST', `/v1/models/${fc}/versions/2/promote`, { by: 'alice' });
    expect(promoted).toMatchObject({ status: 200, body: { active: { version: 2, policy: 'warm', previousVersion: 1 } } });
    expect((await api('GET', `/v1/models/${fc}`)).body).toMatchObject({ active: { version: 2, policy: 'warm' }, shadow: null });
    // Who did what and why, in the model's action log (newest first).
    expect((await api('GET', `/v1/models/${fc}/actions`)).body.actions).toMatchObject([
      { action: 'promoted', by: 'operator:alice', version: 2, reason: expect.stringMatching(/promoted \(warm\)/) },
      { action: 'shadowed', by: 'operator:alice', version: 2, reason: 'challenger from the nightly retrain' },
    ]);
    await waitFor('the worker to serve v2', () => victim.logLines('model version active').some((l) => l.version === 2), 60_000);
    await waitFor('the worker to stop the shadow', () => victim.logLines('model shadow version no longer stepped').length > 0, 60_000);

    const idsBefore = allOffsets(sideEnds);
    await run.feed(after, [], 4, 100);
    await run.drain(180_000, [false]);

    // Forecasts of the readings after the promotion: v2's, equal to the reference's bit for bit.
    const allEnds = await run.kafka.endOffsets(run.side.sensor);
    const coverage = checkCoverage(run.collector.messages(run.side.forecasts), run.side.sensor, allOffsets(allEnds));
    expect(coverage.missing).toEqual([]);
    expect(coverage.differingDuplicates).toEqual([]);
    const servedAfter = new Map(
      [...normalizedPredictions(run.collector.messages(run.side.forecasts), run.side.sensor)].filter(([id]) => !idsBefore.has(id)),
    );
    expect(servedAfter.size).toBe(after.length);
    const versionsAfter = new Set([...servedAfter.values()].map((v) => (JSON.parse(v.slice(v.indexOf('|') + 1)) as Forecast).modelVersion));
    expect([...versionsAfter]).toEqual(['2']);
    expect(diffPredictionMaps(servedAfter, referenceOf(servedAfter.keys()))).toEqual([]);
    expect(run.collector.count(run.side.dlq)).toBe(0);

    // v2's live accuracy, in shadow then active, is the reference's over the whole stream: the
    // same events scored once each (sums in another order: equal to rounding).
    const [mine, theirs] = [await accuracyOf(fc, 2), await accuracyOf(run.model.refFc, 2)];
    expect(mine.events).toBe(theirs.events);
    for (const f of ['mae', 'rmse', 'bias'] as const) expect(Math.abs(mine[f]! - theirs[f]!)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(theirs[f]!)));

    // Every key read after the promotion was handed over warm (none reset), and ends in the
    // reference's state bit for bit.
    const keysAfter = new Set(after.map((e) => e.key)).size;
    expect(keysAfter).toBeGreaterThan(KEYS / 2);
    const metrics = (await victim.http('/metrics')).body;
    expect(metrics).toMatch(new RegExp(`streamcell_swap_policy_total\\{policy="warm"\\} ${keysAfter}\\b`));
    expect(metrics).not.toMatch(/streamcell_swap_policy_total\{policy="warm_fallback"\}/);
    // A key read after the promotion holds v2's state; one that was not still holds v1's, and its
    // v2 state is the shadow's.
    const readAfter = new Set(after.map((e) => e.key));
    expect(await compareStates(run.states, fc, run.model.refFc, keys.filter((k) => readAfter.has(k)))).toEqual([]);
    const notReadAfter = keys.filter((k) => !readAfter.has(k));
    expect(await compareStates(run.states, shadowStateModel(fc, 2), run.model.refFc, notReadAfter)).toEqual([]);
  });
});
