import { RegistryError } from './registry-errors';

/** Model names: safe inside a Redis hash tag, a Kafka key and a URL path segment. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** True when `name` may name a model. */
export function isValidModelName(name: string): boolean {
  return MODEL_NAME.test(name);
}

/** Throws a RegistryError('invalid_name') unless `name` is a valid model name. */
export function assertModelName(name: string): void {
  if (!isValidModelName(name)) {
    throw new RegistryError(
      'invalid_name',
      `invalid model name ${JSON.stringify(name)}: 1-64 of [A-Za-z0-9._-], starting with a letter or digit`,
    );
  }
}

/**
 * Redis key layout. Every key of one model shares the hash tag `{<model>}` so a model's keys
 * live in one Redis Cluster slot and can be written in one MULTI. The model index is the only
 * cross-model key and is never written in the same transaction.
 */
export class RegistryKeys {
  constructor(private readonly prefix = 'reg') {}

  /** Set of model names. */
  index(): string {
    return `${this.prefix}:index`;
  }
  /** INCR counter handing out version numbers. */
  seq(model: string): string {
    return `${this.prefix}:{${model}}:seq`;
  }
  /** Hash version → metadata JSON. */
  versions(model: string): string {
    return `${this.prefix}:{${model}}:versions`;
  }
  /** Hash file name → file bytes, one per version. */
  files(model: string, version: number): string {
    return `${this.prefix}:{${model}}:files:${version}`;
  }
  /** Hash with the shadow pointer (version, at, epoch); version '' = no shadow. */
  shadow(model: string): string {
    return `${this.prefix}:{${model}}:shadow`;
  }

  /** Hash with the active pointer (version, policy, activatedAt, previousVersion, epoch). */
  active(model: string): string {
    return `${this.prefix}:{${model}}:active`;
  }
  /** Hash with the model's control policy (spec JSON, paused, revision, updatedAt, updatedBy). */
  policy(model: string): string {
    return `${this.prefix}:{${model}}:policy`;
  }
  /** Stream of the model's control actions (capped, one JSON entry each). */
  actions(model: string): string {
    return `${this.prefix}:{${model}}:actions`;
  }
  /** String with the control loop's state (JSON, docs/closed-loop.md). */
  loop(model: string): string {
    return `${this.prefix}:{${model}}:loop`;
  }
  /** String naming the trainer that runs the model's control loop (expires unless renewed). */
  loopLease(model: string): string {
    return `${this.prefix}:{${model}}:loop-lease`;
  }
}
