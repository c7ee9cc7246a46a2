// Builds libs/lstm/wasm/build/kernel.wasm from assembly/kernel.ts with the AssemblyScript
// compiler API (SIMD on, -O3, growable memory managed by the host; no GC runtime needed).
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'kernel.wasm');
mkdirSync(dirname(out), { recursive: true });

const { error, stdout, stderr } = await asc.main([
  join(here, 'assembly', 'kernel.ts'),
  '--outFile', out,
  '--textFile', join(here, 'build', 'kernel.wat'),
  '--enable', 'simd',
  '--enable', 'bulk-memory',
  '-O3',
  '--noAssert',
  '--runtime', 'stub',
  '--initialMemory', '2',
]);
if (error) {
  console.error(stderr.toString());
  console.error(`kernel.wasm build failed: ${error.message}`);
  process.exit(1);
}
const log = stdout.toString();
if (log.trim()) console.log(log);
console.log(`built ${out}`);
