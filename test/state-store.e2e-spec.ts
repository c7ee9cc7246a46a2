import {
  createRedisClient,
  decodeStateRecord,
  encodeStateRecord,
  encodedStateSize,
  NO_OFFSET,
  NO_PARTITION,
  StateStore,
  StateStoreError,
  stateKey,
  type RedisLike,
  type StateRecord,
} from '@app/state';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const REDIS_URL = process.env.STREAMCELL_TEST_REDIS_URL;
if (!REDIS_URL) throw new Error('STREAMCELL_TEST_REDIS_URL is not set (the e2e global setup exports it)');

const H = 64;
let run = 0;
const freshModel = () => `state-e2e-${process.pid}-${Date.now()}-${run++}`;

/** A record whose contents are a pure function of (key, offset), so the winner is checkable. */
function recordFor(key: string, partition: number, offset: bigint, version = '1'): StateRecord {
  const state = new Float32Array(2 * H);
  let seed = Number(offset % 1000003n) + key.length * 7919;
  for (let i = 0; i < state.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    state[i] = seed / 2 ** 32 - 0.5;
  }
  return {
    modelVersion: version,
    partition,
    offset,
    steps: Number(offset % 100000n) + 1,
    lastEventTs: 1795000000000 + Number(offset % 1000000n),
    state,
    extras: new Float32Array([1.5, 0.25, -3]),
    ring: null,
  };
}

function sameBytes(a: StateRecord | null, b: StateRecord): boolean {
  return a !== null && encodeStateRecord(a).equals(encodeStateRecord(b));
}

describe('StateStore on a real Redis', () => {
  let redis: RedisLike;
  let other: RedisLike;

  beforeAll(async () => {
    redis = createRedisClient(REDIS_URL, { connectionName: 'state-e2e-a' });
    other = createRedisClient(REDIS_URL, { connectionName: 'state-e2e-b' });
    await Promise.all([redis.ping(), other.ping()]);
  });

  afterAll(async () => {
    await Promise.all([redis.quit(), other.quit()]);
  });

  it('waitReplicas: WAIT rides in the write pipeline; a write no replica acknowledged fails the batch', async () => {
    const model = freshModel();
    const keys = ['a', 'b', 'c'];
    // The run's Redis has no replica: WAIT 1 answers 0 after its timeout. The write itself is done
    // (Redis has no rollback); the failure keeps the batch from being committed, and its retry
    // finds the records already applied.
    const waiting = new StateStore(redis, { waitReplicas: 1, waitTimeoutMs: 100 });
    const pipelineSpy = jest.spyOn(redis, 'pipeline');
    await expect(waiting.writeMany(model, keys.map((key) => ({ key, record: recordFor(key, 0, 5n) })))).rejects.toThrow(
      'state write reached 0 of 1 replicas of redis within 100 ms',
    );
    expect(pipelineSpy).toHaveBeenCalledTimes(1);
    pipelineSpy.mockRestore();
    const plain = new StateStore(redis);
    expect(await plain.writeMany(model, keys.map((key) => ({ key, record: recordFor(key, 0, 5n) })))).toEqual(['stale', 'stale', 'stale']);
    expect(() => new StateStore(redis, { waitReplicas: -1 })).toThrow(/waitReplicas/);
  });

  it('loads 1,000 keys in one pipelined round trip, null where absent', async () => {
    const model = freshModel();
    const store = new StateStore(redis, { idleTtlMs: 600_000 });
    const keys = Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? `sensor-ü-{${i}}` : `sensor-${i}`));
    const present = keys.filter((_, i) => i % 3 !== 0);
    const written = await store.writeMany(
      model,
      present.map((key, i) => ({ key, record: recordFor(key, 0, BigInt(i)) })),
    );
    expect(written.every((o) => o === 'applied')).toBe(true);

    const pipelineSpy = jest.spyOn(redis, 'pipeline');
    const getSpy = jest.spyOn(redis, 'getBuffer');
    const t0 = performance.now();
    const loaded = await store.loadMany(model, keys);
    const ms = performance.now() - t0;
    expect(pipelineSpy).toHaveBeenCalledTimes(1);
    expect(getSpy).not.toHaveBeenCalled();
    pipelineSpy.mockRestore();
    getSpy.mockRestore();

    expect(loaded).toHaveLength(1000);
    let p = 0;
    keys.forEach((key, i) => {
      if (i % 3 === 0) expect(loaded[i]).toBeNull();
      else expect(sameBytes(loaded[i], recordFor(key, 0, BigInt(p++)))).toBe(true);
    });
    const t1 = performance.now();
    await store.loadMany(model, keys);
    const warmMs = performance.now() - t1;
    const round = (x: number) => Math.round(x * 10) / 10;
    console.log(
      JSON.stringify({ bench: 'state.loadMany', keys: 1000, firstMs: round(ms), warmMs: round(warmMs) }),
    );
  });

  it('compare-and-set: applies newer offsets, skips equal and older, accepts a partition change', async () => {
    const model = freshModel();
    const store = new StateStore(redis);
    const k = 'pump-7';
    const read = async () => (await store.loadMany(model, [k]))[0];
    const write = async (p: number, o: bigint) =>
      (await store.writeMany(model, [{ key: k, record: recordFor(k, p, o) }]))[0];

    expect(await write(2, 10n)).toBe('applied');
    expect(await write(2, 10n)).toBe('stale'); // replayed batch
    expect(await write(2, 9n)).toBe('stale');
    expect((await read())!.offset).toBe(10n);
    expect(await write(2, 11n)).toBe('applied');
    // 64-bit offsets: compare the high word, then the low word (unsigned)
    expect(await write(2, 2n ** 32n - 1n)).toBe('applied');
    expect(await write(2, 2n ** 32n)).toBe('applied');
    expect(await write(2, 2n ** 32n - 1n)).toBe('stale');
    expect(await write(2, 2n ** 53n + 1n)).toBe('applied');
    expect(await write(2, 2n ** 53n)).toBe('stale');
    expect(sameBytes(await read(), recordFor(k, 2, 2n ** 53n + 1n))).toBe(true);
    // after a repartition the key arrives on another partition: offsets are not comparable
    expect(await write(5, 3n)).toBe('applied');
    expect((await read())!.partition).toBe(5);
    // a record without a position always writes (admin reset), and anything writes over it
    const reset = { ...recordFor(k, NO_PARTITION, NO_OFFSET), steps: 0 };
    expect((await store.writeMany(model, [{ key: k, record: reset }]))[0]).toBe('applied');
    expect(await write(5, 0n)).toBe('applied');
  });

  it('lines outcomes up with writes across script chunks (700 keys, alternating stale/applied)', async () => {
    const model = freshModel();
    const store = new StateStore(redis);
    const keys = Array.from({ length: 700 }, (_, i) => `chunk-${i}`);
    await store.writeMany(
      model,
      keys.map((key) => ({ key, record: recordFor(key, 0, 5n) })),
    );
    const outcomes = await store.writeMany(
      model,
      keys.map((key, i) => ({ key, record: recordFor(key, 0, i % 2 === 0 ? 4n : 6n) })),
    );
    expect(outcomes).toEqual(keys.map((_, i) => (i % 2 === 0 ? 'stale' : 'applied')));
    const loaded = await store.loadMany(model, keys);
    expect(loaded.map((r) => r!.offset)).toEqual(keys.map((_, i) => (i % 2 === 0 ? 5n : 6n)));
  });

  it('reports outcomes per key within one batch and mixes models with writeRefs', async () => {
    const m1 = freshModel();
    const m2 = freshModel();
    const store = new StateStore(redis);
    await store.writeMany(m1, [{ key: 'a', record: recordFor('a', 0, 5n) }]);
    const outcomes = await store.writeRefs([
      { model: m1, key: 'a', record: recordFor('a', 0, 4n) },
      { model: m1, key: 'b', record: recordFor('b', 0, 4n) },
      { model: m2, key: 'a', record: recordFor('a', 0, 1n) },
    ]);
    expect(outcomes).toEqual(['stale', 'applied', 'applied']);
    const loaded = await store.loadRefs([
      { model: m1, key: 'a' },
      { model: m2, key: 'a' },
      { model: m2, key: 'b' },
    ]);
    expect(loaded.map((r) => r && r.offset)).toEqual([5n, 1n, null]);
  });

  it('sets the idle TTL on applied writes only, and idle keys expire', async () => {
    const model = freshModel();
    const store = new StateStore(redis, { idleTtlMs: 60_000 });
    await store.writeMany(model, [{ key: 'k', record: recordFor('k', 0, 1n) }]);
    await redis.pexpire(stateKey(model, 'k'), 5_000); // shorten, then check a stale write leaves it
    expect(await store.writeMany(model, [{ key: 'k', record: recordFor('k', 0, 1n) }])).toEqual(['stale']);
    const [afterStale] = await store.ttlMany(model, ['k']);
    expect(afterStale).toBeGreaterThan(0);
    expect(afterStale).toBeLessThanOrEqual(5_000);
    await store.writeMany(model, [{ key: 'k', record: recordFor('k', 0, 2n) }]);
    const [afterApplied] = await store.ttlMany(model, ['k']);
    expect(afterApplied).toBeGreaterThan(55_000);
    expect(afterApplied).toBeLessThanOrEqual(60_000);

    const noTtl = new StateStore(redis, { idleTtlMs: 0 });
    await noTtl.writeMany(model, [{ key: 'forever', record: recordFor('forever', 0, 1n) }]);
    expect(await noTtl.ttlMany(model, ['forever', 'absent'])).toEqual([-1, -2]);

    const short = new StateStore(redis, { idleTtlMs: 100 });
    await short.writeMany(model, [{ key: 'brief', record: recordFor('brief', 0, 1n) }]);
    expect((await short.loadMany(model, ['brief']))[0]).not.toBeNull();
    await sleep(250);
    expect((await short.loadMany(model, ['brief']))[0]).toBeNull();
  });

  it('two clients racing over the same keys keep the newest offset of every key', async () => {
    const model = freshModel();
    const a = new StateStore(redis);
    const b = new StateStore(other);
    const keys = Array.from({ length: 200 }, (_, i) => `race-${i}`);
    const last = 40;
    // Each writer sends its own batches in a shuffled order; offsets interleave (a: even, b: odd),
    // so neither writer's last batch is reliably the newest.
    const batchesFor = (parity: number) =>
      Array.from({ length: last / 2 + (parity === 0 ? 1 : 0) }, (_, j) => BigInt(2 * j + parity))
        .filter((o) => o <= BigInt(last))
        .sort(() => Math.random() - 0.5)
        .map((o) => keys.map((key) => ({ key, record: recordFor(key, 1, o) })));
    const drive = async (store: StateStore, batches: ReturnType<typeof batchesFor>) => {
      let applied = 0;
      for (const batch of batches) {
        applied += (await store.writeMany(model, batch)).filter((x) => x === 'applied').length;
      }
      return applied;
    };
    const [appliedA, appliedB] = await Promise.all([drive(a, batchesFor(0)), drive(b, batchesFor(1))]);
    expect(appliedA + appliedB).toBeGreaterThanOrEqual(keys.length);
    const final = await a.loadMany(model, keys);
    keys.forEach((key, i) => expect(sameBytes(final[i], recordFor(key, 1, BigInt(last)))).toBe(true));
  });

  it('survives SCRIPT FLUSH (reloads the Lua script) and a reconnect', async () => {
    const model = freshModel();
    const store = new StateStore(redis);
    expect(await store.writeMany(model, [{ key: 'x', record: recordFor('x', 0, 1n) }])).toEqual(['applied']);
    await redis.script('FLUSH');
    expect(await store.writeMany(model, [{ key: 'x', record: recordFor('x', 0, 2n) }])).toEqual(['applied']);
    redis.disconnect(true);
    expect(await store.writeMany(model, [{ key: 'x', record: recordFor('x', 0, 3n) }])).toEqual(['applied']);
    expect((await store.loadMany(model, ['x']))[0]!.offset).toBe(3n);
  });

  it('loads an undecodable record as null and reports it', async () => {
    const model = freshModel();
    const corrupt: string[] = [];
    const store = new StateStore(redis, { onCorruptRecord: (key, e) => corrupt.push(`${key} ${e.code}`) });
    const good = encodeStateRecord(recordFor('ok', 0, 1n));
    const bad = Buffer.from(good);
    bad[100] ^= 1;
    await redis.set(stateKey(model, 'ok'), good);
    await redis.set(stateKey(model, 'bad'), bad);
    await redis.set(stateKey(model, 'short'), good.subarray(0, 60));
    const loaded = await store.loadMany(model, ['ok', 'bad', 'short']);
    expect(loaded[0]).not.toBeNull();
    expect(loaded[1]).toBeNull();
    expect(loaded[2]).toBeNull();
    expect(corrupt).toEqual([`${stateKey(model, 'bad')} checksum`, `${stateKey(model, 'short')} truncated`]);
    expect(decodeStateRecord(good).offset).toBe(1n);
  });

  it('loads format 1 records written by the previous release and compare-and-sets against them', async () => {
    const model = freshModel();
    const corrupt: string[] = [];
    const store = new StateStore(redis, { onCorruptRecord: (key, e) => corrupt.push(`${key} ${e.code}`) });
    const old = recordFor('a', 2, 500n);
    const oldWithRing: StateRecord = {
      ...recordFor('b', 2, 700n),
      ring: { count: 3, dim: 2, rows: Float32Array.of(20.5, 0, 21, 1, 22.25, 2) },
    };
    await redis.set(stateKey(model, 'a'), encodeStateRecord(old, 1));
    await redis.set(stateKey(model, 'b'), encodeStateRecord(oldWithRing, 1));
    const [a, b] = await store.loadMany(model, ['a', 'b']);
    expect(sameBytes(a, old)).toBe(true);
    expect(sameBytes(b, oldWithRing)).toBe(true);
    expect(corrupt).toEqual([]);
    // The Lua script reads the position of a format 1 record at the same bytes 4..15.
    expect(
      await store.writeMany(model, [
        { key: 'a', record: recordFor('a', 2, 500n) },
        { key: 'b', record: recordFor('b', 2, 701n) },
      ]),
    ).toEqual(['stale', 'applied']);
    const raw = await store.loadRaw(model, ['a', 'b']);
    expect(raw[0]![0]).toBe(1); // untouched
    expect(raw[1]![0]).toBe(2); // rewritten in the current format, 12 bytes smaller
    expect(raw[1]!.length).toBe(encodedStateSize(recordFor('b', 2, 701n)));
    expect(raw[1]!.length).toBe(encodedStateSize(recordFor('b', 2, 701n), 1) - 12);
  });

  it('reports bytes per key: payload and what Redis adds', async () => {
    const model = `m${process.pid}`; // a realistic (short) model name: the key name counts too
    const store = new StateStore(redis, { idleTtlMs: 600_000 });
    const keys = Array.from({ length: 500 }, (_, i) => `sensor-${String(i).padStart(5, '0')}`);
    await store.writeMany(
      model,
      keys.map((key, i) => ({ key, record: recordFor(key, 0, BigInt(i)) })),
    );
    const report = await store.bytesPerKey(model, keys.slice(0, 100));
    const payload = encodedStateSize(recordFor(keys[0], 0, 0n));
    expect(report.keys).toBe(100);
    expect(report.avgPayloadBytes).toBe(payload);
    expect(report.avgRedisBytes).toBeGreaterThan(payload);
    expect(report.avgOverheadBytes).toBeCloseTo(report.avgRedisBytes - payload, 6);
    const hc = 2 * H * 4;
    console.log(
      JSON.stringify({
        bench: 'state.bytesPerKey',
        H,
        hcBytes: hc,
        payloadBytes: payload,
        payloadRatio: +(payload / hc).toFixed(3),
        redisBytes: report.avgRedisBytes,
        redisRatio: +(report.avgRedisBytes / hc).toFixed(3),
        overheadBytes: report.avgOverheadBytes,
        keyNameBytes: report.avgKeyNameBytes,
      }),
    );
    expect(payload).toBeLessThanOrEqual(1.25 * hc);
    expect(await store.deleteMany(model, keys)).toBe(keys.length);
  });

  it('fails with StateStoreError, not a hang, when Redis does not answer', async () => {
    // A server that accepts connections and never replies: a hung or partitioned Redis.
    const sockets: Socket[] = [];
    const blackhole = createServer((sock) => {
      sockets.push(sock);
      sock.on('data', () => undefined);
    });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', () => resolve()));
    const port = (blackhole.address() as AddressInfo).port;
    const dead = createRedisClient(`redis://127.0.0.1:${port}`, {
      maxRetriesPerRequest: 0,
      redisOptions: { commandTimeout: 300, enableReadyCheck: false, retryStrategy: () => null },
    });
    dead.on('error', () => undefined);
    const store = new StateStore(dead);
    await expect(store.loadMany('m', ['a'])).rejects.toBeInstanceOf(StateStoreError);
    await expect(store.writeMany('m', [{ key: 'a', record: recordFor('a', 0, 1n) }])).rejects.toBeInstanceOf(
      StateStoreError,
    );
    dead.disconnect();
    sockets.forEach((sock) => sock.destroy());
    await new Promise((resolve) => blackhole.close(resolve));
  });
});
