// Builds the WASM kernels with the AssemblyScript compiler API, one compiler setting for both
// (SIMD on, -O3, growable memory managed by the host; no GC runtime needed):
//   assembly/kernel.ts -> build/kernel.wasm  the engine's stepping kernel (libs/lstm/src/engine)
//   assembly/train.ts  -> build/train.wasm   the trainer's BPTT kernel (apps/trainer/src/training)
// Each also gets its text format (build/<name>.wat).
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const buildDir = join(here, 'build');
// prettier-ignore
const flags = [
  '--enable', 'simd',
  '--enable', 'bulk-memory',
  '-O3',
  '--noAssert',
  '--runtime', 'stub',
  '--initialMemory', '2',
];
mkdirSync(buildDir, { recursive: true });

for (const name of ['kernel', 'train']) {
  const out = join(buildDir, `${name}.wasm`);
  // prettier-ignore
  const { error, stdout, stderr } = await asc.main([
    join(here, 'assembly', `${name}.ts`),
    '--outFile', out,
    '--textFile', join(buildDir, `${name}.wat`),
    ...flags,
  ]);
  if (error) {
    console.error(stderr.toString());
    console.error(`${name}.wasm build failed: ${error.message}`);
    process.exit(1);
  }
  const log = stdout.toString();
  if (log.trim()) console.log(log);
  console.log(`built ${out}`);
}
