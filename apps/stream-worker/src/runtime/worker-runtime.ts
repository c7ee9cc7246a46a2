import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Consumer, ConsumerRunConfig, Kafka } from 'kafkajs';
import { decodeModelEvent } from '@app/contracts';
import {
  BatchConsumer,
  BatchProducer,
  createKafkaClient,
  ensureTopics,
  probeKafka,
  restartOnCrash,
  type UnitOutcome,
  type PartitionBatch as KafkaBatch,
  type TopicSpec,
} from '@app/kafka';
import { InMemoryModelEventPublisher, ModelRegistry } from '@app/registry';
import { probeDependencies, probeRedis, redactUrl } from '@app/config';
import { StateStore, createRedisClient, type RedisLike } from '@app/state';
import type { WorkerConfig } from '../config/worker-config';
import { loadServingModel } from '../model/model-loader';
import { ModelManager } from '../model/model-manager';
import { WorkerLogger } from '../observability/worker-logger';
import { WorkerMetrics } from '../observability/worker-metrics';
import { WorkerTracing } from '../observability/worker-tracing';
import { BatchProcessor } from '../pipeline/batch-processor';
import { ModelNotReadyError, UnitSupersededError, type OutputRecord } from '../pipeline/ports';
import { HealthServer } from './health-server';
import { StoreStatePort } from './state-port';

/**
 * Group session timeout. Readiness also uses it: a member that has not reached its group
 * coordinator (heartbeat, commit or join) for this long is one the broker would evict, and while
 * the broker is unreachable kafkajs keeps retrying for minutes before it reports a crash.
 */
const SESSION_TIMEOUT_MS = 10_000;

/**
 * Everything the worker runs, framework-free: probes, topic bootstrap, model manager with its
 * activation stream, the batch consumer feeding the {@link BatchProcessor}, health and metrics.
 * The Nest module only creates it and maps lifecycle hooks onto {@link start} / {@link stop}.
 */
export class WorkerRuntime {
  readonly metrics = new WorkerMetrics();
  private redis: RedisLike | null = null;
  private kafka: Kafka | null = null;
  private producer: BatchProducer | null = null;
  private consumer: BatchConsumer | null = null;
  private modelsConsumer: Consumer | null = null;
  private manager: ModelManager | null = null;
  private health: HealthServer | null = null;
  /** Null while tracing is off (OTEL_TRACES_EXPORTER=none). */
  private tracing: WorkerTracing | null = null;
  private joined = false;
  /** Last successful contact with the group coordinator (epoch ms). */
  private lastGroupContact = 0;
  private crashed: string | null = null;
  /** Last batch whose state writes fell short of REDIS_WAIT_REPLICAS, and last batch done (ms). */
  private replicaShortfallAt = 0;
  private batchDoneAt = 0;
  private stopping = false;
  private readonly batchLog: WorkerLogger;
  private totals = { events: 0, predictions: 0, batches: 0, deadLetters: 0, skipped: 0 };
  private statsTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly cfg: WorkerConfig,
    private readonly logger: WorkerLogger,
  ) {
    this.batchLog = logger.child('batch');
  }

  async start(): Promise<void> {
    const cfg = this.cfg;
    const log = this.logger;
    const kafkaConfig = {
      brokers: cfg.kafkaBrokers,
      clientId: cfg.kafkaClientId,
      sasl: cfg.kafkaSasl,
      logLevel: 'error' as const,
      logger: {
        error: (m: string) => log.warn(m),
        warn: (m: string) => log.warn(m),
        log: (m: string) => log.debug(m),
      },
    };

    // Probes first, in parallel, within BOOT_PROBE_TIMEOUT: fail fast naming the unreachable
    // address and its variable (@app/config boot contract: exit 3).
    const [kafkaProbe] = await probeDependencies(
      [
        { name: 'Kafka', variable: 'KAFKA_BROKERS', probe: (ms) => probeKafka(kafkaConfig, ms) },
        { name: 'Redis', variable: 'REDIS_URL', probe: (ms) => probeRedis(cfg.redisUrl, ms, cfg.redisSentinelMaster) },
      ],
      cfg.bootProbeTimeoutMs,
    );
    // The serving client: one failed attempt per command (the consumer retries whole batches with
    // backoff), reconnecting by itself after an outage.
    const redis = createRedisClient(cfg.redisUrl, {
      connectionName: `stream-worker-${process.pid}`,
      maxRetriesPerRequest: 1,
      cluster: cfg.redisCluster,
      sentinelMaster: cfg.redisSentinelMaster,
    });
    redis.on('error', (e: Error) => log.debug('redis client error', { error: e.message }));
    // ioredis can end a connection for good (seen under Sentinel when the master is killed while
    // it reconnects): every later command would fail with "Connection is closed". Start it again.
    redis.on('end', () => {
      if (this.stopping) return;
      log.warn('redis client ended; connecting again');
      setTimeout(() => {
        if (!this.stopping) redis.connect().catch((e: Error) => log.debug('redis reconnect failed', { error: e.message }));
      }, 1000).unref();
    });
    this.redis = redis;
    log.log('kafka and redis reachable', {
      kafka: kafkaProbe,
      redis: redactUrl(cfg.redisUrl),
      redisCluster: cfg.redisCluster,
      redisSentinelMaster: cfg.redisSentinelMaster,
    });

    this.kafka = createKafkaClient(kafkaConfig);
    const bootstrap = await ensureTopics(this.kafka, workerTopics(cfg));
    if (bootstrap.created.length > 0) log.log('topics created', { topics: bootstrap.created });

    // Models: every active version now, activations from MODELS_TOPIC afterwards.
    const registry = new ModelRegistry(redis, new InMemoryModelEventPublisher());
    this.manager = new ModelManager(
      registry,
      (name, version, policy) => loadServingModel(registry, name, version, policy),
      log.child('models'),
      this.metrics,
    );
    await this.manager.loadAllActive([cfg.forecastModel, cfg.classifyModel]);
    await this.startModelEvents();

    this.tracing = await WorkerTracing.start(cfg.tracing, cfg.kafkaGroupId, log.child('tracing'));
    if (this.tracing !== null) log.log('tracing on', { ...cfg.tracing });

    this.producer = new BatchProducer(this.kafka, {});
    await this.producer.connect();
    const producer = this.producer;
    const processor = new BatchProcessor(
      {
        sensorTopic: cfg.sensorTopic,
        textTopic: cfg.textTopic,
        forecastTopic: cfg.forecastTopic,
        classificationTopic: cfg.classificationTopic,
        dlqTopic: cfg.dlqTopic,
        forecastModel: cfg.forecastModel,
        classifyModel: cfg.classifyModel,
        maxGapMs: cfg.maxEventGapMs,
        allowedLatenessMs: cfg.allowedLatenessMs,
        maxTextLength: cfg.maxTextLength,
        maxPayloadBytes: cfg.maxPayloadBytes,
        dlqMaxBytes: cfg.dlqMaxBytes,
        rewarmSteps: cfg.rewarmSteps,
        shadowTopic: cfg.shadowTopic ?? '',
      },
      this.manager,
      new StoreStatePort(
        new StateStore(redis, {
          onCorruptRecord: (redisKey, error) => {
            this.metrics.corruptState();
            log.warn('stored state cannot be decoded; the key starts afresh', { redisKey, error: error.message });
          },
          idleTtlMs: cfg.stateTtlMs,
          waitReplicas: cfg.redisWaitReplicas,
          waitTimeoutMs: cfg.redisWaitTimeoutMs,
        }),
        (model, key) => {
          this.metrics.corruptState();
          log.warn('stored state is not finite; the key starts afresh', { model, key });
        },
      ),
      { sendBatch: async (records: readonly OutputRecord[]) => void (await producer.sendBatch(records)) },
      this.metrics,
      log.child('processor'),
    );

    this.health = new HealthServer(cfg.httpPort, this.metrics.registry, () => this.readiness(), log.child('http'));
    this.metrics.watchReadiness(() => this.readiness());
    this.metrics.configured({
      models: [cfg.forecastModel, cfg.classifyModel],
      inputTopics: [cfg.sensorTopic, cfg.textTopic],
      outputTopics: [cfg.forecastTopic, cfg.classificationTopic],
    });
    const port = await this.health.listen();
    log.log('http listening', { port, paths: ['/health', '/health/ready', '/metrics'] });

    this.consumer = new BatchConsumer(this.kafka, {
      groupId: cfg.kafkaGroupId,
      topics: [cfg.sensorTopic, cfg.textTopic],
      fromBeginning: true,
      retryDelayMs: 200,
      maxRetryDelayMs: 5000,
      commitIntervalMs: cfg.commitIntervalMs,
      consumerConfig: {
        sessionTimeout: SESSION_TIMEOUT_MS,
        rebalanceTimeout: 20_000,
        heartbeatInterval: 1_000,
        ...fetchSettings(cfg.batchLingerMs),
        allowAutoTopicCreation: false,
      },
      unitHandler: (batches) => this.handle(processor, batches),
      onStage: (stage, seconds) => this.metrics.stageSeconds(stage, seconds),
      isSuperseded: (error) => error instanceof UnitSupersededError,
      // Redis being away is no partition's own failure: those retry together, one attempt for all.
      isolateAfter: (error) => {
        const kind = errorKind(error);
        return kind !== 'redis' && kind !== 'redis_replicas';
      },
      onCommitError: (error) => {
        this.metrics.retry('commit');
        log.warn('offset commit failed; the next unit commits these offsets', { error: (error as Error).message });
      },
      restart: {
        onRestart: (attempt, delayMs, cause) =>
          log.warn('consumer restarting after a crash', { attempt, delayMs, error: (cause as Error | undefined)?.message }),
      },
      onError: (error, batch, attempt, retryInMs) => {
        const kind = error instanceof ModelNotReadyError ? 'model_not_ready' : errorKind(error);
        this.metrics.retry(kind);
        if (kind === 'redis_replicas') this.replicaShortfallAt = Date.now();
        const fields = {
          topic: batch.topic,
          partition: batch.partition,
          firstOffset: batch.firstOffset,
          attempt,
          retryInMs,
          kind,
          error: (error as Error).message,
        };
        // A missing model is an expected wait; log it rarely.
        if (kind !== 'model_not_ready' || attempt === 1 || attempt % 20 === 0) {
          log.warn('batch failed; partition paused, retrying with backoff', fields);
        }
        return kind;
      },
    });
    this.metrics.watchPartitions(this.consumer);
    const c = this.consumer.consumer;
    const readyOnce = new Promise<void>((resolve) => {
      c.on(c.events.GROUP_JOIN, (e) => {
        this.joined = true;
        // Every assigned partition is fetched again from its committed offset.
        processor.assignmentChanged();
        this.metrics.partitionsAssigned();
        this.lastGroupContact = Date.now();
        this.crashed = null;
        log.log('consumer group joined', {
          groupId: cfg.kafkaGroupId,
          memberId: e.payload.memberId,
          assignment: e.payload.memberAssignment,
        });
        resolve();
      });
    });
    const contact = (): void => {
      this.lastGroupContact = Date.now();
    };
    c.on(c.events.HEARTBEAT, contact);
    c.on(c.events.COMMIT_OFFSETS, contact);
    c.on(c.events.CRASH, (e) => {
      this.joined = false;
      this.crashed = String(e.payload.error?.message ?? e.payload.error);
      log.error('consumer crashed', { error: this.crashed, restart: e.payload.restart });
    });
    c.on(c.events.STOP, () => {
      this.joined = false;
    });
    await this.consumer.start();
    await readyOnce;
    this.statsTimer = setInterval(() => this.logStats(), 10_000).unref();
    log.log('streamcell worker ready', {
      groupId: cfg.kafkaGroupId,
      topics: [cfg.sensorTopic, cfg.textTopic],
      models: this.manager.snapshot(),
      httpPort: port,
    });
  }

  /** SIGTERM path: finish the in-flight batch (it commits), leave the group, disconnect. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const log = this.logger;
    log.log('stopping: finishing the current batch');
    if (this.statsTimer) clearInterval(this.statsTimer);
    const steps: [string, () => Promise<unknown>][] = [
      ['consumer', async () => this.consumer?.stop()],
      ['models consumer', async () => this.modelsConsumer?.disconnect()],
      ['producer', async () => this.producer?.disconnect()],
      ['tracing', async () => this.tracing?.shutdown()],
      ['http', async () => this.health?.close()],
      ['redis', async () => this.redis?.quit()],
    ];
    for (const [what, fn] of steps) {
      try {
        await fn();
      } catch (e) {
        log.warn(`stop: ${what} failed`, { error: (e as Error).message });
      }
    }
    this.manager?.close();
    this.logStats();
    log.log('stopped');
  }

  /**
   * One unit of work (the partition batches of one fetch): prepared now, written in order after
   * the units before it. The consumer fetches and prepares the next unit meanwhile, and commits
   * this one's offsets once `durable` resolves.
   */
  private async handle(processor: BatchProcessor, batches: readonly KafkaBatch[]): Promise<UnitOutcome> {
    const t0 = process.hrtime.bigint();
    const trace = this.tracing?.startUnit(batches);
    let unit: Awaited<ReturnType<BatchProcessor['prepareUnit']>>;
    try {
      unit = await processor.prepareUnit(batches, trace);
    } catch (err) {
      trace?.end(null, err);
      throw err;
    }
    const res = unit.result;
    const durable = unit.write().then(() => {
      this.batchDoneAt = Date.now();
      this.totals.batches += batches.length - res.waiting.size;
      this.totals.events += res.events;
      this.totals.predictions += res.predictions;
      this.totals.deadLetters += res.deadLetters;
      this.totals.skipped += res.skipped;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      for (const topic of new Set(batches.map((b) => b.topic))) this.metrics.batchDone(topic, seconds);
      this.batchLog.debug('unit', {
        partitions: batches.length,
        waiting: res.waiting.size,
        size: res.events,
        predictions: res.predictions,
        dlq: res.deadLetters,
        skipped: res.skipped,
        ms: Math.round(seconds * 1000),
      });
    });
    // Batches waiting for their topic's model are retried with backoff; the others are committed
    // once durable (not for a revoked partition: the replay's events are skipped by the state offsets).
    if (trace !== undefined) {
      const summary = { predictions: res.predictions, deadLetters: res.deadLetters, skipped: res.skipped, waiting: res.waiting.size };
      durable.then(
        () => trace.end(summary),
        (err: unknown) => trace.end(summary, err),
      );
    }
    return {
      failed: [...res.waiting].map(([i, error]) => ({ batch: batches[i], error })),
      durable,
      committed: trace && ((startMs, endMs) => trace.committed(startMs, endMs)),
    };
  }

  private async startModelEvents(): Promise<void> {
    const cfg = this.cfg;
    const manager = this.manager!;
    // A group per worker instance reading from the beginning: every worker sees every activation
    // (the topic is compacted, so this is the latest activation of each model, then live ones).
    const groupId = `${cfg.kafkaGroupId}.models.${hostname()}.${process.pid}.${randomBytes(3).toString('hex')}`;
    const consumer = this.kafka!.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 200 });
    this.modelsConsumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [cfg.modelsTopic], fromBeginning: true });
    const runConfig: ConsumerRunConfig = {
      autoCommit: false,
      eachMessage: async ({ message }) => {
        const decoded = decodeModelEvent(message.value);
        if (!decoded.ok) {
          this.logger.warn('ignoring an invalid model event', { reason: decoded.reason, detail: decoded.detail });
          return;
        }
        manager.activations.next(decoded.event);
      },
    };
    // Without this, a crash kafkajs gives up on would stop activations reaching this worker for good.
    restartOnCrash(consumer, () => consumer.run(runConfig), () => !this.stopping, {
      onRestart: (attempt, delayMs, cause) =>
        this.logger.warn('model events consumer restarting after a crash', {
          attempt,
          delayMs,
          error: (cause as Error | undefined)?.message,
        }),
    });
    await consumer.run(runConfig);
  }

  private async readiness(): Promise<{ ready: boolean; checks: Record<string, unknown> }> {
    let redisOk = false;
    try {
      redisOk = (await Promise.race([this.redis?.ping(), timeout(1000)])) === 'PONG';
    } catch {
      redisOk = false;
    }
    // A topic whose model has no active version yet is a valid deployment (its events wait), so
    // readiness asks for the boot load to be done and at least one topic model to be served.
    const required = [this.cfg.forecastModel, this.cfg.classifyModel];
    const models = this.manager?.snapshot() ?? [];
    const waiting = required.filter((n) => !this.manager?.get(n));
    const modelsOk = this.manager !== null && waiting.length < required.length;
    const sinceContactMs = Date.now() - this.lastGroupContact;
    const kafkaOk = this.joined && this.crashed === null && !this.stopping && sinceContactMs <= SESSION_TIMEOUT_MS;
    // Redis answers but cannot keep state durably: the last write attempt fell short of
    // REDIS_WAIT_REPLICAS (a master without its replica) and no batch has completed since.
    const replicasOk = this.replicaShortfallAt <= this.batchDoneAt;
    // A partition whose batch has kept failing past STUCK_PARTITION_READY_MS (a wait for a model's
    // first activation is a valid deployment state, as above, and does not count).
    const now = Date.now();
    const stuck = (this.consumer?.stuckPartitions() ?? []).filter(
      (p) => p.kind !== 'model_not_ready' && now - p.sinceMs > this.cfg.stuckPartitionReadyMs,
    );
    const partitionsOk = stuck.length === 0;
    return {
      ready: kafkaOk && redisOk && replicasOk && modelsOk && partitionsOk,
      checks: {
        kafka: { ok: kafkaOk, joined: this.joined, crashed: this.crashed, sinceContactMs },
        redis: {
          ok: redisOk && replicasOk,
          ...(this.cfg.redisWaitReplicas > 0
            ? {
                waitReplicas: this.cfg.redisWaitReplicas,
                lastShortfallAt: replicasOk ? null : new Date(this.replicaShortfallAt).toISOString(),
              }
            : {}),
        },
        // A shadow that fails to load is reported here and never affects readiness.
        models: { ok: modelsOk, required, waitingForActivation: waiting, served: models, shadows: this.manager?.shadowSnapshot() ?? [] },
        partitions: {
          ok: partitionsOk,
          stuckLimitMs: this.cfg.stuckPartitionReadyMs,
          stuck: stuck.map((p) => ({
            topic: p.topic,
            partition: p.partition,
            attempts: p.attempts,
            kind: p.kind,
            stuckMs: now - p.sinceMs,
          })),
        },
      },
    };
  }

  private logStats(): void {
    this.logger.log('throughput', { ...this.totals });
  }
}

/**
 * kafkajs fetch settings for BATCH_LINGER_MS. 0: the broker answers a fetch as soon as one
 * record is there (minBytes 1), and an idle fetch returns after 100 ms so that paused partitions
 * and rebalances are noticed promptly. Otherwise the broker waits up to the linger for 1 MiB.
 * Either way a fetch (one unit of work) holds at most 2 MiB (256 KiB per partition): under a
 * backlog a unit stays a few seconds of work at most, well inside the session timeout, instead of
 * the 10 MiB kafkajs would fetch by default.
 */
export function fetchSettings(lingerMs: number): {
  minBytes: number;
  maxWaitTimeInMs: number;
  maxBytes: number;
  maxBytesPerPartition: number;
} {
  const caps = { maxBytes: 2 * 1024 * 1024, maxBytesPerPartition: 256 * 1024 };
  return lingerMs === 0
    ? { minBytes: 1, maxWaitTimeInMs: 100, ...caps }
    : { minBytes: 1024 * 1024, maxWaitTimeInMs: lingerMs, ...caps };
}

/**
 * The topics the worker creates when they are missing, with their partition counts (operators
 * that manage topics, e.g. the Strimzi overlay's KafkaTopics, declare the same).
 */
export function workerTopics(cfg: WorkerConfig): TopicSpec[] {
  return [
    { topic: cfg.sensorTopic, partitions: 6 },
    { topic: cfg.textTopic, partitions: 6 },
    { topic: cfg.forecastTopic, partitions: 6 },
    { topic: cfg.classificationTopic, partitions: 6 },
    { topic: cfg.dlqTopic, partitions: 1 },
    { topic: cfg.modelsTopic, partitions: 1, configs: { 'cleanup.policy': 'compact' } },
    ...(cfg.shadowTopic ? [{ topic: cfg.shadowTopic, partitions: 6 }] : []),
  ];
}

function timeout(ms: number): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref());
}

function errorKind(error: unknown): 'kafka' | 'redis' | 'redis_replicas' | 'other' {
  const name = (error as Error | undefined)?.name ?? '';
  const msg = (error as Error | undefined)?.message ?? '';
  if (name.startsWith('KafkaJS')) return 'kafka';
  // Written, but short of REDIS_WAIT_REPLICAS acknowledgements (a master without its replica).
  if ((error as { reason?: string } | undefined)?.reason === 'replicas') return 'redis_replicas';
  if (name === 'StateStoreError' || /redis|ECONNREFUSED|Connection is closed|MaxRetriesPerRequest/i.test(msg)) return 'redis';
  return 'other';
}
