/** Old import path of e2e-env.ts, kept only for hot-swap.e2e-spec.ts and bench/e2e until they import the new modules. */
export { e2eStack as faultStack, sleep, uniqueSuffix, waitFor } from './e2e-env';
export { seededRandom } from '@app/lstm';
