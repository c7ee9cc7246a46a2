import pino from 'pino';
import { EnvValidationError } from './env-schema';
import { createLogger } from './logging';

/**
 * Exit codes of a failed boot, the same in both apps: 2 invalid configuration (the message names
 * the variable), 3 a dependency unreachable within BOOT_PROBE_TIMEOUT (the message names the
 * address and the variable), 1 anything else.
 */
export const BOOT_EXIT = { other: 1, invalidConfig: 2, unreachable: 3 } as const;

/**
 * Ends the process because it cannot start: one JSON line in the apps' log format on stderr
 * (`level` `fatal`, `msg` `boot failed: <message>`), then the exit. Use it at boot only; a
 * running app pauses and retries instead.
 */
export function failBoot(app: string, message: string, exitCode: number, fields: Record<string, unknown> = {}): never {
  // Synchronous write to fd 2: the line is out before the exit.
  createLogger('info', pino.destination({ fd: 2, sync: true }))
    .child({ context: app })
    .fatal({ ...fields, exitCode }, `boot failed: ${message}`);
  process.exit(exitCode);
}

/** One dependency that boot waits for: what it is called, the variable that sets its address, its probe. */
export interface BootDependency {
  /** For messages, e.g. `Kafka`. */
  readonly name: string;
  /** The variable that sets the address, named in the failure message. */
  readonly variable: string;
  /**
   * Resolves once the dependency answers; rejects within `deadlineMs` otherwise, with a message
   * naming the address (e.g. `probeKafka`, `probeRedis`).
   */
  readonly probe: (deadlineMs: number) => Promise<unknown>;
}

/**
 * One or more dependencies did not answer within the boot deadline. The message names each
 * one's address (from its probe) and its variable.
 */
export class DependencyUnreachableError extends Error {
  constructor(readonly causes: readonly { readonly dependency: string; readonly variable: string; readonly message: string }[]) {
    super(causes.map((c) => `${c.message} (${c.variable})`).join('; '));
    this.name = 'DependencyUnreachableError';
  }
}

/**
 * Probes every dependency in parallel, each with the whole deadline (BOOT_PROBE_TIMEOUT).
 * Resolves to the probes' results in order; throws {@link DependencyUnreachableError} naming
 * every one that did not answer.
 */
export async function probeDependencies(deps: readonly BootDependency[], deadlineMs: number): Promise<unknown[]> {
  const results = await Promise.allSettled(deps.map((d) => d.probe(deadlineMs)));
  const causes = results.flatMap((r, i) =>
    r.status === 'fulfilled'
      ? []
      : [{ dependency: deps[i].name, variable: deps[i].variable, message: r.reason instanceof Error ? r.reason.message : String(r.reason) }],
  );
  if (causes.length > 0) throw new DependencyUnreachableError(causes);
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value);
}

/**
 * Runs an app's boot and maps its failure onto {@link BOOT_EXIT}: an {@link EnvValidationError}
 * exits 2, a {@link DependencyUnreachableError} exits 3, anything else 1; each with one
 * {@link failBoot} line. `boot` validates the configuration before anything connects, then
 * probes with {@link probeDependencies}, then starts the app.
 */
export function runBoot(app: string, boot: () => Promise<void>): void {
  boot().catch((err: unknown) => {
    if (err instanceof EnvValidationError) {
      failBoot(app, `invalid configuration: ${err.message}`, BOOT_EXIT.invalidConfig, { variables: err.problems.map((p) => p.variable) });
    }
    if (err instanceof DependencyUnreachableError) {
      failBoot(app, err.message, BOOT_EXIT.unreachable, { variables: err.causes.map((c) => c.variable) });
    }
    failBoot(app, `${app} failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, BOOT_EXIT.other);
  });
}
