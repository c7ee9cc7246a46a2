import { readFileSync, readdirSync } from 'fs';
import * as path from 'path';
import { BatchProcessor } from '../pipeline/batch-processor';
import { MemorySink, MemoryState, processorConfig } from '../pipeline/testing/memory-ports';
import { loadServingModel } from './model-loader';

const FIXTURE = path.resolve(__dirname, '../../../../libs/lstm/fixtures/keras-functional-masked');

describe('a Keras model with Masking served by the worker', () => {
  it('skips all-mask_value readings like Keras and matches model.predict on every sequence', async () => {
    const files = new Map(readdirSync(FIXTURE).map((f) => [f, readFileSync(path.join(FIXTURE, f))]));
    const registry = { loadVersionFiles: async () => files };
    const model = await loadServingModel(registry, 'forecaster', 1, 'reset');
    expect(model.task.kind === 'forecast' && model.task.maskValue).toBe(0);

    const expected = JSON.parse(files.get('expected.json')!.toString('utf8')) as {
      inputs: number[][][];
      predictions: number[][];
    };
    const masked = expected.inputs.flat().filter((row) => row.every((v) => v === 0)).length;
    expect(masked).toBeGreaterThan(0);

    const sink = new MemorySink();
    const p = new BatchProcessor(
      processorConfig,
      { get: (n: string) => (n === 'forecaster' ? model : undefined) },
      new MemoryState(),
      sink,
    );
    // Time-major interleaving of all sequences in one batch: each sequence is one sensor.
    const messages = [];
    const T = expected.inputs[0].length;
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < expected.inputs.length; k++) {
        const body = {
          sensorId: `seq-${k}`,
          ts: 1_795_000_000_000 + t * 1000,
          values: expected.inputs[k][t],
        };
        messages.push({
          offset: String(messages.length),
          key: Buffer.from(body.sensorId),
          value: Buffer.from(JSON.stringify(body)),
        });
      }
    }
    await p.process({ topic: 'sensor.readings', partition: 0, messages });

    const last = new Map<string, number[]>();
    for (const r of sink.all) {
      const j = JSON.parse(r.value) as { sensorId: string; forecast: number[] };
      last.set(j.sensorId, j.forecast);
    }
    let maxErr = 0;
    expected.predictions.forEach((want, k) => {
      const got = last.get(`seq-${k}`)!;
      want.forEach((v, j) => (maxErr = Math.max(maxErr, Math.abs(got[j] - v))));
    });
    expect(maxErr).toBeLessThanOrEqual(1e-5);
  });
});
