import { InvalidRequestError } from '../services/invalid-request.error';

/** Query parameters: only `allowed` ones, each given at most once (a 400 names the field otherwise). */
export function singleParams(query: Record<string, unknown>, allowed: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(query)) {
    if (!allowed.includes(k)) throw new InvalidRequestError(`${k} is not a parameter of this route (allowed: ${allowed.join(', ')})`);
    if (typeof v !== 'string') throw new InvalidRequestError(`${k} must be given once, as a string`);
    out[k] = v;
  }
  return out;
}
