/**
 * Ends the process because it cannot start: one line on stderr, prefixed so that logs and tests
 * can find it, then a non-zero exit. Use it for invalid configuration and unreachable
 * dependencies at boot, never later (a running app pauses and retries instead).
 */
export function failBoot(message: string, exitCode = 78): never {
  process.stderr.write(`[streamcell] boot failed: ${message}\n`);
  // exit() would drop writes still queued on a piped stderr; exitCode + a hard exit after flush does not.
  process.exitCode = exitCode;
  process.stderr.write('', () => process.exit(exitCode));
  // Unreachable in practice; keeps the `never` contract if exit is delayed by the flush.
  throw new BootFailure(message);
}

/** Thrown by {@link failBoot} in the instant between scheduling the exit and exiting. */
export class BootFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootFailure';
  }
}
