#!/usr/bin/env node
/**
 * Prints the failed tests of jest JSON reports (`jest --json --outputFile=F`) in a few lines each,
 * so that the end of a long test log says what failed and why, even when only its tail is kept.
 *
 * Usage: node scripts/lib/jest-digest.js REPORT.json... (missing or partial files are skipped).
 */
const fs = require('fs');

const MAX_LINES = Number(process.env.DIGEST_LINES || 25);
const strip = (s) => s.replace(/\u001b\[[0-9;]*m/g, '');
/** Message lines worth keeping: no blank lines, no stack frames inside node_modules or node itself. */
const keep = (l) => l.trim() !== '' && !/^\s*at .*(node_modules\/|node:internal|<anonymous>)/.test(l);

let failed = 0;
for (const file of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    continue;
  }
  for (const suite of report.testResults || []) {
    const name = suite.name.replace(process.cwd() + '/', '');
    const tests = (suite.assertionResults || []).filter((t) => t.status === 'failed');
    if (tests.length === 0 && suite.status === 'failed') {
      // The suite failed outside any test (setup, hooks, a compile error).
      failed++;
      console.error(`✕ ${name}: suite failed`);
      const lines = strip(suite.message || '').split('\n').filter(keep);
      for (const l of lines.slice(0, MAX_LINES)) console.error(`    ${l}`);
    }
    for (const t of tests) {
      failed++;
      console.error(`✕ ${name} › ${t.fullName} (${t.duration ?? '?'} ms)`);
      const lines = strip((t.failureMessages || []).join('\n')).split('\n').filter(keep);
      for (const l of lines.slice(0, MAX_LINES)) console.error(`    ${l}`);
      if (lines.length > MAX_LINES) console.error(`    … ${lines.length - MAX_LINES} more lines`);
    }
  }
}
if (failed > 0) console.error(`--- ${failed} failed (details above, full output earlier in the log) ---`);
