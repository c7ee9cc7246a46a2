/**
 * Dependency outages: with Redis or Kafka unavailable mid-stream the worker pauses, retries with
 * backoff, commits nothing past events whose state was not written, and resumes by itself.
 *
 * The suite runs its own Kafka and Redis (PrivateStack, fresh ports) so it can stop and restart
 * them without touching the run's shared stack. Cases: Redis stopped, Kafka stopped, Redis paused
 * (requests hang instead of failing). Per case: a reference worker processes a copy of the log
 * before the outage (same partitions and offsets, identically-weighted models under other names,
 * as crash-replay does); the worker under test processes part of the log, the dependency is
 * stopped (or paused) for 14-22 s while more events arrive, then started again. While it is down
 * the worker process stays up (no crash loop, /health answers), /health/ready says not ready,
 * retries back off, and no state changes where it cannot be written. At the restart the worker
 * is frozen (SIGSTOP) for a moment so that committed offsets and states can be compared exactly:
 * every event below a committed offset has its state written. Afterwards, without any restart of
 * the process, every source offset has a prediction and every key's final state equals the
 * reference bit for bit, with one state transition per event.
 */
import { seededRandom } from '@app/lstm';
import { sleep, waitFor } from './support/e2e-env';
import { DualRun } from './support/dual-run';
import { sensorEvents, textEvents, type GeneratedEvent } from './support/event-streams';
import { PrivateStack, type StackService } from './support/private-stack';
import { RETRY_LOG_LINE, type WorkerProcess } from './support/worker-process';

const PARTITIONS = 4;
/**
 * Time the worker gets to notice the outage before the "while down" assertions apply: Redis
 * fails its next PING; a silent group coordinator counts after the session timeout (10 s).
 */
const NOTICE_MS: Record<StackService, number> = { redis: 4_000, kafka: 12_000 };
/** How long the "while down" assertions are checked after that. */
const DOWN_CHECK_MS = 10_000;

/** What the suite saw of the worker at one moment of an outage. */
interface Sample {
  readonly atMs: number;
  readonly running: boolean;
  readonly live: number;
  readonly ready: number;
  readonly checks: Record<string, { ok?: boolean }>;
}

/** GET a worker path; status 0 when it does not answer. */
async function probe(w: WorkerProcess, path: string): Promise<{ status: number; body: string }> {
  try {
    return await w.http(path, 3000);
  } catch (e) {
    return { status: 0, body: (e as Error).message };
  }
}

/** Samples the worker every 500 ms until `untilMs` after `since`, running `extra` on each sample. */
async function observe(
  w: WorkerProcess,
  since: number,
  untilMs: number,
  extra: (atMs: number) => Promise<void> = async () => undefined,
): Promise<Sample[]> {
  const out: Sample[] = [];
  while (Date.now() - since < untilMs) {
    const atMs = Date.now() - since;
    const [live, ready] = await Promise.all([probe(w, '/health'), probe(w, '/health/ready')]);
    let checks: Record<string, { ok?: boolean }> = {};
    try {
      checks = JSON.parse(ready.body) as Record<string, { ok?: boolean }>;
    } catch {
      // Not JSON: the status says enough.
    }
    out.push({ atMs, running: w.running, live: live.status, ready: ready.status, checks });
    await extra(atMs);
    await sleep(500);
  }
  return out;
}

/** Offsets of events fed in order to fresh topics: index i → offset within its partition. */
function offsetsOf(events: readonly GeneratedEvent[]): bigint[] {
  const next = new Map<number, bigint>();
  return events.map((e) => {
    const o = next.get(e.partition) ?? 0n;
    next.set(e.partition, o + 1n);
    return o;
  });
}

/** One logged retry: when the batch failed, its attempt number, the delay the worker scheduled. */
interface Retry {
  readonly t: number;
  readonly attempt: number;
  readonly retryInMs: number;
}

/** Retry log lines of a worker grouped by topic/partition, in log order. */
function retries(w: WorkerProcess, since: number): Map<string, Retry[]> {
  const out = new Map<string, Retry[]>();
  for (const line of w.logLines(RETRY_LOG_LINE)) {
    const t = Date.parse(String(line.time));
    if (t < since) continue;
    const id = `${String(line.topic)}/${String(line.partition)}`;
    let list = out.get(id);
    if (!list) out.set(id, (list = []));
    list.push({ t, attempt: Number(line.attempt), retryInMs: Number(line.retryInMs) });
  }
  return out;
}

/**
 * Backoff problems in one partition's retries: more than 20 attempts; within a run of failures
 * (consecutive attempt numbers), a scheduled delay shorter than the one before, a run of three or
 * more whose delay never grew, or a next attempt sooner than the delay scheduled after the
 * previous one (the wall-clock gap also holds the failing attempt itself, which varies with how
 * the dependency fails, so the gap is checked against the schedule, not against the other gaps).
 */
function backoffProblems(id: string, list: readonly Retry[]): string[] {
  const out: string[] = [];
  if (list.length > 20) out.push(`${id}: ${list.length} attempts`);
  let runStart = 0;
  for (let i = 1; i <= list.length; i++) {
    const prev = list[i - 1];
    const cur = list[i];
    if (cur && cur.attempt === prev.attempt + 1) {
      if (cur.retryInMs < prev.retryInMs) out.push(`${id}: delay ${cur.retryInMs} ms after ${prev.retryInMs} ms`);
      // Timers never fire early by more than a millisecond or so; log times are whole ms.
      if (cur.t - prev.t < prev.retryInMs - 20)
        out.push(`${id}: attempt ${cur.attempt} came ${cur.t - prev.t} ms after a ${prev.retryInMs} ms delay`);
      continue;
    }
    const run = list.slice(runStart, i);
    if (run.length >= 3 && run[run.length - 1].retryInMs <= run[0].retryInMs)
      out.push(`${id}: ${run.length} attempts, delay stuck at ${run[0].retryInMs} ms`);
    runStart = i;
  }
  return out;
}

describe('outages: Redis and Kafka stopped or paused mid-stream', () => {
  let stack: PrivateStack;
  const seed = Number.parseInt(process.env.FAULT_SEED ?? String(Date.now() % 1e9), 10);

  beforeAll(async () => {
    stack = await PrivateStack.start();
  }, 240_000);

  afterAll(() => stack?.dispose());

  /**
   * One outage of `service`, its container stopped (connections refused) or paused (connections
   * hang): phase A before it, phase B fed while it is down (Redis) or just before it goes down
   * (Kafka), phase C after it is back.
   */
  async function outage(service: StackService, how: 'stop' | 'pause' = 'stop'): Promise<void> {
    const tag = (service === 'redis' ? 'ogr' : 'ogk') + (how === 'pause' ? 'p' : '');
    const noticeMs = NOTICE_MS[service];
    const outageMs = noticeMs + DOWN_CHECK_MS;
    const run = new DualRun(tag, PARTITIONS, stack);
    await run.setUp();
    try {
      const rnd = seededRandom(seed + (service === 'redis' ? 0 : 7) + (how === 'pause' ? 13 : 0));
      const sensors = sensorEvents(
        `${tag}-sensor-${run.s}`,
        60,
        30,
        PARTITIONS,
        seed + Math.floor(rnd() * 1000),
      );
      const texts = textEvents(
        `${tag}-text-${run.s}`,
        20,
        30,
        PARTITIONS,
        seed + 1 + Math.floor(rnd() * 1000),
      );
      const total = sensors.length + texts.length;
      const cut = (f: number) => [Math.floor(sensors.length * f), Math.floor(texts.length * f)] as const;
      const [sA, tA] = cut(0.4);
      const [sB, tB] = cut(service === 'redis' ? 1 : 0.7);

      await run.produceReference(sensors, texts);
      const ref = run.worker('ref', true).start();
      const victim = run.worker('victim', false).start();
      await Promise.all([ref.ready(), victim.ready()]);
      const pid = victim.pid;

      // Phase A, and the reference run completes before anything goes down.
      await run.feed(sensors.slice(0, sA), texts.slice(0, tA), 4, 100);
      await waitFor('phase A predicted', () => run.predicted() >= sA + tA, 120_000, 100);
      await run.drain(120_000, [true]);
      expect((await ref.stop('SIGTERM')).code).toBe(0);
      expect((await probe(victim, '/health/ready')).status).toBe(200);
      const group = run.group(false);
      const topics = [
        { topic: run.side.sensor, model: run.model.fc, events: sensors },
        { topic: run.side.text, model: run.model.cl, events: texts },
      ];
      const keysOf = (events: readonly GeneratedEvent[]) => [...new Set(events.map((e) => e.key))];
      const readStates = async () =>
        Promise.all(topics.map((t) => run.states.readMany(t.model, keysOf(t.events))));

      // The outage.
      let feeding: Promise<void> = Promise.resolve();
      if (service === 'kafka') {
        // Phase B lands just before the broker goes: batches are in flight when it does.
        await run.feed(sensors.slice(sA, sB), texts.slice(tA, tB), 3, 50);
      }
      const endsBefore = new Map<string, Map<number, bigint>>();
      for (const t of topics) endsBefore.set(t.topic, await run.kafka.endOffsets(t.topic));
      const downFrom = Date.now();
      await (how === 'stop' ? stack.stop(service) : stack.pause(service));
      const downAt = Date.now();
      if (service === 'redis') {
        // Phase B arrives while Redis is down.
        feeding = run.feed(sensors.slice(sA, sB), texts.slice(tA, tB), 6, 300);
      }
      const committedWhileDown: Map<string, Map<number, bigint>>[] = [];
      let statesAtNotice: Awaited<ReturnType<typeof readStates>> | null = null;
      const samples = await observe(victim, downAt, outageMs, async (atMs) => {
        if (atMs < noticeMs) return;
        if (service === 'redis') {
          const c = new Map<string, Map<number, bigint>>();
          for (const t of topics) c.set(t.topic, await run.kafka.committed(group, t.topic));
          committedWhileDown.push(c);
        } else {
          statesAtNotice ??= await readStates();
        }
      });
      await feeding;

      // While down: alive, live, not ready, paused.
      expect(samples.filter((s) => !s.running || s.live !== 200)).toEqual([]);
      const late = samples.filter((s) => s.atMs >= noticeMs);
      expect(late.length).toBeGreaterThanOrEqual(4);
      expect(late.filter((s) => s.ready !== 503 || s.checks[service]?.ok !== false)).toEqual([]);
      if (service === 'redis') {
        // Nothing fed during the outage is committed; commits stand still.
        expect(committedWhileDown.length).toBeGreaterThanOrEqual(4);
        const past: string[] = [];
        for (const c of committedWhileDown) {
          for (const t of topics) {
            for (const [p, end] of endsBefore.get(t.topic)!) {
              const at = c.get(t.topic)!.get(p) ?? -1n;
              if (at > end)
                past.push(`${t.topic}/${p}: committed ${at} while Redis was down, fed before it ${end}`);
            }
          }
        }
        expect(past.slice(0, 10)).toEqual([]);
        const first = committedWhileDown[0];
        const last = committedWhileDown[committedWhileDown.length - 1];
        expect(last).toEqual(first);
      } else {
        // No state transition while predictions cannot be produced.
        const now = await readStates();
        const raw = (x: Awaited<ReturnType<typeof readStates>>) =>
          x.map((list) => list.map((r) => r?.raw.toString('hex') ?? null));
        expect(statesAtNotice).not.toBeNull();
        expect(raw(now)).toEqual(raw(statesAtNotice!));
      }
      // Retries back off. Batches that failed (every one of phase B while Redis is down; those in
      // flight when the broker went) are retried at most a few times per partition, spaced further
      // and further apart.
      const tries = retries(victim, downFrom);
      const spacing: string[] = [];
      let longest = 0;
      for (const [id, list] of tries) {
        const during = list.filter((r) => r.t <= downAt + outageMs);
        spacing.push(...backoffProblems(id, during));
        longest = Math.max(longest, during.length);
      }
      expect(spacing).toEqual([]);
      // A stopped Redis fails every attempt fast; a paused one leaves the first attempt hanging.
      if (service === 'redis' && how === 'stop') expect(longest).toBeGreaterThanOrEqual(3);
      // The Kafka clients reconnect with backoff too: a few attempts a second at most, not a loop.
      const refused = victim.logs
        .split('\n')
        .filter((l) => l.includes('ECONNREFUSED') && l.includes('[kafkajs Connection]'))
        .filter((l) => Date.parse(/"time":"([^"]+)"/.exec(l)?.[1] ?? '') <= downAt + outageMs).length;
      if (service === 'kafka') expect(refused).toBeGreaterThanOrEqual(3);
      expect(refused).toBeLessThanOrEqual(4 * ((downAt + outageMs - downFrom) / 1000));

      // Back up: freeze the worker for the exact check of commits against states.
      process.kill(pid, 'SIGSTOP');
      let restartMs: number;
      const violations: string[] = [];
      try {
        const t0 = Date.now();
        await (how === 'stop' ? stack.restart(service) : stack.unpause(service));
        restartMs = Date.now() - t0;
        const states = await readStates();
        for (const [i, t] of topics.entries()) {
          const committed = await run.kafka.committed(group, t.topic);
          const offsets = offsetsOf(t.events);
          const needed = new Map<string, bigint>();
          t.events.forEach((e, j) => {
            if (offsets[j] < (committed.get(e.partition) ?? 0n)) needed.set(e.key, offsets[j]);
          });
          keysOf(t.events).forEach((key, k) => {
            const want = needed.get(key);
            const rec = states[i][k]?.record;
            if (want !== undefined && (!rec || rec.offset < want)) {
              violations.push(
                `${t.topic} ${key}: committed past offset ${want}, state at ${rec ? rec.offset : 'none'}`,
              );
            }
          });
        }
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      expect(violations.slice(0, 10)).toEqual([]);

      // Phase C after the outage; the same process recovers on its own.
      const upAt = Date.now();
      await run.feed(sensors.slice(sB), texts.slice(tB), 3, 100);
      await waitFor(
        'the worker ready again',
        async () => (await probe(victim, '/health/ready')).status === 200,
        120_000,
        250,
      );
      const readyAfterMs = Date.now() - upAt;
      await run.drain(180_000, [false]);
      expect(victim.running).toBe(true);
      expect(victim.pid).toBe(pid);
      // A crash kafkajs gave up on (no restart of its own) was followed by the worker's restart.
      const gaveUp = victim.logLines('consumer crashed').filter((l) => l.restart === false).length;
      const restarted = victim.logLines('consumer restarting after a crash').length;
      expect(restarted).toBeGreaterThanOrEqual(gaveUp);
      const report = await run.verify(sensors, texts);

      // One state transition per event: forecast keys step once per reading, text keys once per token.
      expect((await run.stepCountDiffs(sensors, texts)).slice(0, 10)).toEqual([]);

      console.log(
        JSON.stringify({
          suite: 'outage',
          service,
          how,
          seed,
          events: total,
          samples: samples.length,
          retries: Object.fromEntries([...tries].map(([id, list]) => [id, list.length])),
          restartMs: restartMs!,
          readyAfterMs,
          consumerCrashes: { gaveUp, restarted },
          ...report,
        }),
      );
      const exit = await victim.stop('SIGTERM');
      expect(exit.code).toBe(0);
      expect(exit.afterSignalMs).toBeLessThan(10_000);
    } finally {
      await run.tearDown();
      // A failed case must not leave the next one without the dependency.
      await stack.ensureRunning(service);
    }
  }

  it('Redis stopped mid-stream: pauses, backs off, commits nothing unwritten, resumes by itself', () =>
    outage('redis'));

  it('Kafka stopped mid-stream: pauses, backs off, commits nothing unwritten, resumes by itself', () =>
    outage('kafka'));

  it('Redis paused mid-stream (requests hang): not ready, commits nothing unwritten, resumes by itself', () =>
    outage('redis', 'pause'));
});
