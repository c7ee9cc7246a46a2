/**
 * Stops exactly the containers test/global-setup.ts started (ids from the state file), also
 * after failed tests. Set STREAMCELL_TEST_KEEP_STACK=1 to leave them running for inspection.
 */
import * as fs from 'fs';
import { readStackState, removeContainers, stackStateFile } from './support/e2e-stack';

export default async function globalTeardown(): Promise<void> {
  const state = readStackState();
  if (!state) return;
  if (state.containerIds.length === 0) {
    fs.rmSync(stackStateFile(), { force: true });
    return;
  }
  if (process.env.STREAMCELL_TEST_KEEP_STACK === '1') {
    process.stderr.write(`[e2e] keeping containers ${state.containerIds.join(', ')} (STREAMCELL_TEST_KEEP_STACK=1)\n`);
    return;
  }
  removeContainers(state.containerIds);
  // Nothing left to clean up: drop the state file.
  fs.rmSync(stackStateFile(), { force: true });
  process.stderr.write(`[e2e] removed containers ${state.containerIds.map((id) => id.slice(0, 12)).join(', ')} (${stackStateFile()})\n`);
}
