import type { AccuracyUpdate } from '@app/state';
import type { PlacedOutput } from './encode-stage';
import type { OutputSink, ProcessorObserver, StatePort, StateWrite, UnitTrace } from './ports';

/**
 * Stage 6a, produce: one producer call with every prediction and dead letter of the unit (in
 * source order), acknowledged by all in-sync replicas. Units produce one after the other in
 * preparation order; a unit's produce does not wait for the state write of the unit before it
 * (docs/hot-path.md, Write lanes). Returns when the records were acknowledged (epoch ms).
 */
export async function produceUnit(sink: OutputSink, outputs: PlacedOutput[], observer: ProcessorObserver, trace?: UnitTrace): Promise<number> {
  if (outputs.length === 0) return Date.now();
  outputs.sort((a, b) => a.batch - b.batch || a.index - b.index);
  const t0 = performance.now();
  await sink.sendBatch(outputs.map((o) => o.record));
  const emittedAtMs = Date.now();
  const seconds = (performance.now() - t0) / 1000;
  observer.stageSeconds?.('produce', seconds);
  trace?.stage('produce', seconds);
  return emittedAtMs;
}

/**
 * Stage 6b, state write: every model's compare-and-set state writes (one pipelined round trip
 * per model, concurrently), after the unit's own produce: a state that records an offset implies
 * its predictions are durable. The consumer commits the unit's offsets after this stage returned
 * (the commit half of the stage lives in the BatchConsumer). A model's live accuracy updates ride
 * first in its state write (docs/accuracy.md).
 */
export async function writeStates(
  store: StatePort,
  writes: ReadonlyMap<string, readonly StateWrite[]>,
  observer: ProcessorObserver,
  trace?: UnitTrace,
  accuracy: ReadonlyMap<string, readonly AccuracyUpdate[]> = new Map(),
): Promise<void> {
  const pending = [...writes].filter(([, w]) => w.length > 0);
  if (pending.length === 0) return;
  const t0 = performance.now();
  const results = await Promise.all(pending.map(([model, w]) => store.writeMany(model, w, accuracy.get(model))));
  const seconds = (performance.now() - t0) / 1000;
  observer.stageSeconds?.('state_write', seconds);
  trace?.stage('state_write', seconds);
  let written = 0;
  let conflicts = 0;
  pending.forEach(([, w], i) => {
    written += w.length;
    conflicts += results[i].conflicts.length;
  });
  observer.stateOps?.('write', written);
  // A stale write means another writer (a zombie or the partition's new owner) already stored
  // this key at or past our offset; states are a deterministic function of the applied prefix,
  // so the newer one is correct and ours is dropped.
  if (conflicts > 0) observer.stateOps?.('conflict', conflicts);
}
