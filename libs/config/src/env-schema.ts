import {
  parseBoolean,
  parseBrokerList,
  parseDurationMs,
  parseIntInRange,
  parsePort,
  parsePositiveInt,
  parseRedisUrl,
  parseTopicName,
  oneOf,
} from './env-parsers';

/** How one environment variable is read. */
export interface EnvVarSpec<T> {
  /** Turns the raw (non-empty) string into the value, or throws saying what is wrong. */
  readonly parse: (raw: string) => T;
  /** Raw default used when the variable is unset or empty; without it the variable is required. */
  readonly default?: string;
  /** When true and unset (and no default), the value is `undefined` instead of an error. */
  readonly optional?: boolean;
  /** One line for error messages and the README configuration table. */
  readonly description: string;
  /** Never echo the raw value in errors (tokens, passwords). */
  readonly secret?: boolean;
}

/** A set of variables, by name. */
export type EnvSpec = Readonly<Record<string, EnvVarSpec<unknown>>>;

/** The typed values of a spec. */
export type EnvValues<S extends EnvSpec> = {
  readonly [K in keyof S]: S[K] extends EnvVarSpec<infer T> ? (S[K] extends { optional: true } ? T | undefined : T) : never;
};

/** One invalid or missing variable. */
export interface EnvProblem {
  readonly variable: string;
  readonly message: string;
}

/** Thrown by {@link validateEnv}; its message names every bad variable, one per line. */
export class EnvValidationError extends Error {
  constructor(readonly problems: readonly EnvProblem[]) {
    super(
      problems.length === 1
        ? `${problems[0].variable}: ${problems[0].message}`
        : `invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
    this.name = 'EnvValidationError';
  }

  /** The first bad variable's name. */
  get variable(): string {
    return this.problems[0]?.variable ?? '';
  }
}

/**
 * A rule across variables (e.g. "required unless another is set"), run once every variable is
 * valid on its own; returns the problems it finds (none: `[]`).
 */
export type EnvCheck<S extends EnvSpec> = (values: EnvValues<S>) => readonly EnvProblem[];

/**
 * Reads and validates every variable of `spec` from `env` (default `process.env`) and returns
 * the typed values; throws {@link EnvValidationError} naming all bad variables at once.
 * `check` adds rules across variables; it runs only when each variable parsed.
 */
export function validateEnv<S extends EnvSpec>(
  spec: S,
  env: Record<string, string | undefined> = process.env,
  check?: EnvCheck<S>,
): EnvValues<S> {
  const out: Record<string, unknown> = {};
  const problems: EnvProblem[] = [];
  for (const [name, v] of Object.entries(spec)) {
    const raw = env[name];
    const given = raw !== undefined && raw.trim() !== '';
    if (!given && v.default === undefined) {
      if (v.optional) {
        out[name] = undefined;
        continue;
      }
      problems.push({ variable: name, message: `is required (${v.description})` });
      continue;
    }
    const text = given ? raw : v.default!;
    try {
      out[name] = v.parse(text);
    } catch (err) {
      const why = (err as Error).message;
      problems.push({ variable: name, message: v.secret ? redactSecret(why, text) : why });
    }
  }
  if (problems.length > 0) throw new EnvValidationError(problems);
  const cross = check?.(out as EnvValues<S>) ?? [];
  if (cross.length > 0) throw new EnvValidationError(cross);
  return out as EnvValues<S>;
}

/**
 * Hides a secret's raw value in a parser's message. Parsers quote the value, so the quoted form
 * goes first; a bare replace of a short value (say `a`) would mangle the message instead.
 */
function redactSecret(message: string, raw: string): string {
  const out = message.split(`"${raw}"`).join('"***"');
  const bare = raw.trim();
  return bare.length >= 8 ? out.split(bare).join('***') : out;
}

const cache = new WeakMap<EnvSpec, unknown>();

/**
 * {@link validateEnv} on `process.env`, once per spec object: later calls return the same
 * frozen values, so every consumer sees one consistent configuration.
 */
export function loadEnv<S extends EnvSpec>(spec: S): EnvValues<S> {
  const hit = cache.get(spec);
  if (hit) return hit as EnvValues<S>;
  const values = Object.freeze(validateEnv(spec));
  cache.set(spec, values);
  return values;
}

/** Forgets cached values (tests that change `process.env`). */
export function clearEnvCache(spec: EnvSpec): void {
  cache.delete(spec);
}

/** Builders of {@link EnvVarSpec}s for the shared value kinds. */
export const env = {
  string: (description: string, def?: string): EnvVarSpec<string> => ({ parse: (s) => s.trim(), default: def, description }),
  /** Optional and never echoed; with `minLength`, shorter values are refused. */
  secret: (description: string, minLength = 0): EnvVarSpec<string> & { readonly optional: true } => ({
    parse: (s) => {
      const v = s.trim();
      if (v.length < minLength) throw new Error(`must be at least ${minLength} characters`);
      return v;
    },
    optional: true,
    secret: true,
    description,
  }),
  /** The same variable, `undefined` when unset or empty. */
  optional: <T>(spec: EnvVarSpec<T>): EnvVarSpec<T> & { readonly optional: true } => ({ ...spec, default: undefined, optional: true }),
  brokers: (description: string, def?: string): EnvVarSpec<string[]> => ({ parse: parseBrokerList, default: def, description }),
  redisUrl: (description: string, def?: string): EnvVarSpec<string> => ({ parse: parseRedisUrl, default: def, description, secret: false }),
  port: (description: string, def?: number): EnvVarSpec<number> => ({ parse: (s) => parsePort(s, true), default: def?.toString(), description }),
  positiveInt: (description: string, def?: number): EnvVarSpec<number> => ({ parse: parsePositiveInt, default: def?.toString(), description }),
  intInRange: (description: string, min: number, max: number, def?: number): EnvVarSpec<number> => ({
    parse: (s) => parseIntInRange(s, min, max),
    default: def?.toString(),
    description,
  }),
  durationMs: (description: string, def?: string): EnvVarSpec<number> => ({ parse: parseDurationMs, default: def, description }),
  topic: (description: string, def?: string): EnvVarSpec<string> => ({ parse: parseTopicName, default: def, description }),
  /** With `strict`, only `true`/`false` (see {@link parseBoolean}). */
  boolean: (description: string, def?: boolean, strict = false): EnvVarSpec<boolean> => ({
    parse: (s) => parseBoolean(s, strict),
    default: def?.toString(),
    description,
  }),
  oneOf: <T extends string>(allowed: readonly T[], description: string, def?: T): EnvVarSpec<T> => ({
    parse: oneOf(allowed),
    default: def,
    description,
  }),
};
