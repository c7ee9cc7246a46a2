import fc from 'fast-check';
import { Partitioners, type PartitionerArgs, type PartitionMetadata } from 'kafkajs';
import { memoKeyPartitioner } from './key-partitioner';

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));

describe('memoKeyPartitioner', () => {
  it('gives the default partitioner\'s partition for every keyed message, on first sight and when remembered', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            topic: fc.constantFrom('forecasts', 'classifications'),
            key: fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constant('pump-0001')),
            partitions: fc.constantFrom(1, 6, 16),
            explicit: fc.option(fc.nat(5), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        (messages) => {
          const memo = memoKeyPartitioner();
          const reference = Partitioners.DefaultPartitioner();
          // Each message twice: the second time its key comes from the memo.
          for (const m of [...messages, ...messages]) {
            const args: PartitionerArgs = {
              topic: m.topic,
              partitionMetadata: metadata(m.partitions),
              message: { key: m.key, value: 'v', partition: m.explicit },
            };
            expect(memo(args)).toBe(reference(args));
          }
        },
      ),
    );
  });

  it('hashes Buffer keys like the default and spreads keyless messages over the partitions', () => {
    const memo = memoKeyPartitioner();
    const reference = Partitioners.DefaultPartitioner();
    const args = (key: Buffer | null): PartitionerArgs => ({ topic: 't', partitionMetadata: metadata(6), message: { key, value: 'v' } });
    for (const k of ['a', 'pump-7', 'é']) expect(memo(args(Buffer.from(k)))).toBe(reference(args(Buffer.from(k))));
    const seen = new Set(Array.from({ length: 60 }, () => memo(args(null))));
    expect([...seen].every((p) => p >= 0 && p < 6)).toBe(true);
    expect(seen.size).toBeGreaterThan(1);
  });

  it('starts over when a topic\'s partition count changes', () => {
    const memo = memoKeyPartitioner();
    const reference = Partitioners.DefaultPartitioner();
    const keys = Array.from({ length: 50 }, (_, i) => `sensor-${i}`);
    for (const n of [6, 12]) {
      for (const key of keys) {
        const args: PartitionerArgs = { topic: 't', partitionMetadata: metadata(n), message: { key, value: 'v' } };
        expect(memo(args)).toBe(reference(args));
      }
    }
  });
});
