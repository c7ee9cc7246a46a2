// Bundles the console page (npm run build): web/main.ts with uPlot into one script and one
// stylesheet under dist/apps/console/public, next to the compiled server. esbuild only; nothing
// is downloaded.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', '..', 'dist', 'apps', 'console', 'public');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, 'main.ts'), style: join(here, 'style.css') },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: out,
  logLevel: 'warning',
  legalComments: 'linked',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
const kb = (f) => (statSync(join(out, f)).size / 1024).toFixed(1);
console.log(`console page: app.js ${kb('app.js')} KiB, style.css ${kb('style.css')} KiB -> ${out}`);
