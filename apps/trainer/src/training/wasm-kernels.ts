import * as tf from '@tensorflow/tfjs';

interface WasmBackendLike {
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
}

let registered = false;

/**
 * Registers `UnsortedSegmentSum` for the wasm backend, which tfjs-backend-wasm 4.22 lacks: it is
 * the gradient of Gather, i.e. of Embedding, so without it text models cannot train on wasm.
 * out[s, :] = Σ x[i, :] over rows i with segmentIds[i] = s (ids outside [0, numSegments) dropped,
 * as TensorFlow does). One pass over x in JS; the data is already in wasm memory.
 */
export function registerWasmTrainingKernels(): void {
  if (registered || tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    registered = true;
    return;
  }
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const b = backend as unknown as WasmBackendLike;
      const xs = b.readSync(x.dataId);
      const ids = b.readSync(segmentIds.dataId);
      const rows = segmentIds.shape.reduce((a, d) => a * d, 1);
      const inner = rows === 0 ? 0 : xs.length / rows;
      const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
      const out = b.makeOutput(outShape, x.dtype);
      const o = b.typedArrayFromHeap(out);
      o.fill(0);
      for (let i = 0; i < rows; i++) {
        const s = ids[i];
        if (s < 0 || s >= numSegments) continue;
        const src = i * inner;
        const dst = s * inner;
        for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j];
      }
      return out;
    },
  });
  registered = true;
}
