/** Old import path of test-kafka.ts, kept only for hot-swap.e2e-spec.ts and bench/e2e until they import the new modules. */
export { TestKafka as FaultKafka, partitionFor, type Collector, type OutMessage } from './test-kafka';
