/**
 * @packageDocumentation
 * Kafka adapter of streamcell: a typed client factory, idempotent topic bootstrap, an idempotent
 * batch producer, a commit-after-handler batch consumer and a boot probe. Framework-free.
 * See libs/kafka/README.md.
 */

/** Client configuration types and defaults. */
export {
  KAFKA_CLIENT_DEFAULTS,
  type KafkaClientConfig,
  type KafkaLogLevel,
  type KafkaLogSink,
  type KafkaRetryConfig,
  type KafkaSaslLogin,
} from './kafka-config';
/** Client factory and log mapping. */
export { createKafkaClient, kafkaJsSasl, kafkaLogCreator, toKafkaJsLogLevel } from './kafka-client';
/** Idempotent topic creation. */
export { ensureTopics, type TopicSpec, type TopicBootstrapResult } from './topic-bootstrap';
/** One-call multi-topic idempotent producer. */
export {
  BatchProducer,
  chunkBySize,
  DEFAULT_MAX_REQUEST_BYTES,
  type BatchProducerOptions,
  type OutgoingMessage,
} from './batch-producer';
/** kafkajs' default partitioner with each key's partition remembered. */
export { memoKeyPartitioner } from './key-partitioner';
/** Commit-after-handler consumer: the partition batches of one fetch as one unit of work. */
export {
  BatchConsumer,
  type BatchConsumerOptions,
  type BatchHandler,
  type BatchContext,
  type ConsumerStage,
  type FailedBatch,
  type PartitionBatch,
  type PartitionProgress,
  type StuckPartition,
  type UnitHandler,
  type UnitOutcome,
} from './batch-consumer';
/** Re-running a consumer after a crash kafkajs does not restart itself. */
export { restartOnCrash, type CrashRestartOptions } from './crash-restart';
/** Boot-time reachability probe. */
export { probeKafka, KafkaUnreachableError, type KafkaProbeResult } from './kafka-probe';
/** Re-exported kafkajs types that appear in this API. */
export type { Kafka, KafkaMessage, Consumer, Producer, Admin, IHeaders } from 'kafkajs';
