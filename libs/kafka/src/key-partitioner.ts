import { Partitioners, type ICustomPartitioner, type PartitionerArgs } from 'kafkajs';

/** Keys remembered per topic before that topic's memo starts over (bounds the memory). */
const MAX_KEYS_PER_TOPIC = 100_000;

/**
 * kafkajs' default partitioner (Java-compatible murmur2 of the key) with each string key's
 * partition remembered per topic and partition count. The worker sends one record per event and
 * a sensor's key recurs on every reading: hashing it again each time (and the per-record
 * allocations of the default partitioner) was ~8 % of the worker's CPU at full load
 * (docs/hot-path.md, CPU). Same partitions as the default, always: a message with an explicit
 * partition, a Buffer key or no key goes to the default partitioner itself, and a topic whose
 * partition count changed starts a new memo.
 */
export const memoKeyPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  const memos = new Map<string, { partitions: number; byKey: Map<string, number> }>();
  return (args: PartitionerArgs): number => {
    const { topic, partitionMetadata, message } = args;
    const key = message.key;
    if ((message.partition !== null && message.partition !== undefined) || typeof key !== 'string') return fallback(args);
    let memo = memos.get(topic);
    if (memo === undefined || memo.partitions !== partitionMetadata.length || memo.byKey.size >= MAX_KEYS_PER_TOPIC) {
      memo = { partitions: partitionMetadata.length, byKey: new Map() };
      memos.set(topic, memo);
    }
    let partition = memo.byKey.get(key);
    if (partition === undefined) {
      partition = fallback(args);
      memo.byKey.set(key, partition);
    }
    return partition;
  };
};
