// Builds libs/lstm/wasm/build/train.wasm (the trainer's SIMD BPTT kernel) from assembly/train.ts.
// Same compiler settings as build.mjs' inference kernel: SIMD, -O3, host-managed memory, no GC.
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const wasmFile = join(dir, 'build', 'train.wasm');
mkdirSync(join(dir, 'build'), { recursive: true });
const flags = ['--enable', 'simd', '--enable', 'bulk-memory', '-O3', '--noAssert', '--runtime', 'stub', '--initialMemory', '2'];
const res = await asc.main([join(dir, 'assembly', 'train.ts'), '--outFile', wasmFile, '--textFile', wasmFile.replace(/\.wasm$/, '.wat'), ...flags]);
if (res.error) {
  process.stderr.write(`${res.stderr.toString()}\ntrain.wasm build failed: ${res.error.message}\n`);
  process.exit(1);
}
if (res.stdout.toString().trim()) process.stdout.write(res.stdout.toString());
console.log(`built ${wasmFile}`);
