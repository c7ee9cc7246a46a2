/**
 * Stops exactly the containers test/global-setup.ts started (ids from the state file), also
 * after failed tests. Set STREAMCELL_TEST_KEEP_STACK=1 to leave them running for inspection.
 */
import { readStackState, removeContainers, stackStateFile, writeStackState } from './support/e2e-stack';

export default async function globalTeardown(): Promise<void> {
  const state = readStackState();
  if (!state || state.containerIds.length === 0) return;
  if (process.env.STREAMCELL_TEST_KEEP_STACK === '1') {
    process.stderr.write(`[e2e] keeping containers ${state.containerIds.join(', ')} (STREAMCELL_TEST_KEEP_STACK=1)\n`);
    return;
  }
  removeContainers(state.containerIds);
  writeStackState({ containerIds: [] });
  process.stderr.write(`[e2e] removed containers ${state.containerIds.map((id) => id.slice(0, 12)).join(', ')} (${stackStateFile()})\n`);
}
