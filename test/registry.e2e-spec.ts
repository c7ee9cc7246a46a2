import { randomUUID } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import Redis from 'ioredis';
import { artifactToBuffers, saveTfjsModelToBuffers } from '@app/lstm';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import {
  ChecksumMismatchError,
  InvalidArtifactError,
  KafkaModelEventPublisher,
  ModelRegistry,
  sha256Hex,
  type ModelActivatedEvent,
} from '@app/registry';

const brokers = (process.env.STREAMCELL_TEST_KAFKA_BROKERS ?? '').split(',').filter(Boolean);
const redisUrl = process.env.STREAMCELL_TEST_REDIS_URL ?? '';

/** A real (tiny) forecaster artifact in the @app/lstm format; `seed` changes the weights. */
async function artifact(seed: number): Promise<Map<string, Buffer>> {
  const m = tf.sequential();
  m.add(tf.layers.lstm({ units: 2, inputShape: [null, 1], recurrentActivation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  m.add(tf.layers.dense({ units: 1 }));
  const saved = await saveTfjsModelToBuffers(m);
  m.dispose();
  return artifactToBuffers({
    modelJson: saved.get('model.json')!,
    weights: new Map([...saved].filter(([n]) => n !== 'model.json')),
    sidecar: {
      task: 'forecast',
      name: 'e2e',
      version: seed,
      input: { features: ['value'], includeTimeDelta: false, window: 4 },
      scaler: { type: 'standard', mean: [0], scale: [1], count: 1 },
      labels: [],
      horizon: 1,
    },
  });
}

describe('model registry on Redis and Kafka', () => {
  const run = randomUUID().slice(0, 8);
  const topic = `streamcell.models.e2e-${run}`;
  let redis: Redis;
  let kafka: Kafka;
  let producer: Producer;
  let consumer: Consumer;
  let registry: ModelRegistry;
  const seen: { key: string; event: ModelActivatedEvent }[] = [];

  beforeAll(async () => {
    expect(brokers.length).toBeGreaterThan(0);
    expect(redisUrl).not.toBe('');
    redis = new Redis(redisUrl);
    kafka = new Kafka({ clientId: `registry-e2e-${run}`, brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
    });
    await admin.disconnect();
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    consumer = kafka.consumer({ groupId: `registry-e2e-${run}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push({ key: message.key!.toString(), event: JSON.parse(message.value!.toString()) });
      },
    });
    registry = new ModelRegistry(redis, new KafkaModelEventPublisher(producer, topic));
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
    redis?.disconnect();
  });

  it('numbers versions from 1, records metadata and checksums, and verifies files on read', async () => {
    const name = `forecast-${run}`;
    const files = await artifact(1);
    const v1 = await registry.createVersion(name, files, {
      task: 'forecast',
      dataRange: { kind: 'file', path: '/data/a.csv', examples: 10 },
      metrics: { mae: 0.5, rmse: 0.7 },
    });
    const v2 = await registry.createVersion(name, await artifact(2), { task: 'forecast', parentVersion: v1, policy: 'rewarm' });
    expect([v1, v2]).toEqual([1, 2]);

    const meta = await registry.getVersion(name, v1);
    expect(meta).toMatchObject({
      model: name,
      version: 1,
      parentVersion: null,
      task: 'forecast',
      metrics: { mae: 0.5, rmse: 0.7 },
      dataRange: { kind: 'file', path: '/data/a.csv', examples: 10 },
      source: 'trained',
    });
    expect(Date.parse(meta!.createdAt)).not.toBeNaN();
    expect(meta!.files['group1-shard1of1.bin'].sha256).toBe(sha256Hex(files.get('group1-shard1of1.bin')!));

    const loaded = await registry.loadVersionFiles(name, v1);
    expect([...loaded.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [f, data] of files) expect(loaded.get(f)!.equals(data)).toBe(true);

    const details = await registry.getModel(name);
    expect(details!.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(details!.versions[1].parentVersion).toBe(1);
    expect(details!.active).toBeNull();
    expect((await registry.listModels()).find((m) => m.name === name)).toEqual({
      name,
      task: 'forecast',
      latestVersion: 2,
      versionCount: 2,
      activeVersion: null,
      shadowVersion: null,
    });

    // A stored byte flipped behind the registry's back is caught on read.
    await redis.hset(`reg:{${name}}:files:1`, 'group1-shard1of1.bin', Buffer.from([0, 0, 0, 0]));
    await expect(registry.loadVersionFiles(name, v1)).rejects.toBeInstanceOf(ChecksumMismatchError);
  });

  it('refuses an artifact whose sidecar checksum does not match', async () => {
    const files = await artifact(3);
    files.set('group1-shard1of1.bin', Buffer.alloc(files.get('group1-shard1of1.bin')!.length));
    await expect(registry.createVersion(`bad-${run}`, files, { task: 'forecast' })).rejects.toBeInstanceOf(
      ChecksumMismatchError,
    );
    const noSidecar = await artifact(3);
    noSidecar.delete('streamcell.json');
    await expect(registry.createVersion(`bad-${run}`, noSidecar, { task: 'forecast' })).rejects.toBeInstanceOf(
      InvalidArtifactError,
    );
    expect(await registry.getModel(`bad-${run}`)).toBeNull();
  });

  it('activates, rolls back, and publishes each activation on the compacted topic keyed by model', async () => {
    const name = `classify-${run}`;
    const v1 = await registry.createVersion(name, await artifact(4), { task: 'classify' });
    const v2 = await registry.createVersion(name, await artifact(5), { task: 'classify', parentVersion: v1 });
    const p1 = await registry.activate(name, v2);
    const p2 = await registry.activate(name, v1, 'keep');
    expect(p1).toMatchObject({ version: 2, previousVersion: null, policy: 'reset', epoch: 1 });
    expect(p2).toMatchObject({ version: 1, previousVersion: 2, policy: 'keep', epoch: 2 });
    expect(await registry.getActive(name)).toEqual(p2);
    expect((await registry.getModel(name))!.active!.version).toBe(1);
    await expect(registry.activate(name, 99)).rejects.toThrow(/no version 99/);

    const deadline = Date.now() + 30_000;
    while (seen.filter((s) => s.key === name).length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const events = seen.filter((s) => s.key === name).map((s) => s.event);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ type: 'model.activated', model: name, version: 2, task: 'classify', epoch: 1 });
    expect(events[1]).toMatchObject({ model: name, version: 1, previousVersion: 2, policy: 'keep', epoch: 2 });
    const v1meta = await registry.getVersion(name, v1);
    expect(events[1].files['model.json']).toBe(v1meta!.files['model.json'].sha256);

  });
});
