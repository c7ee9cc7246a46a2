/** Old import path of dual-run.ts, kept only until hot-swap.e2e-spec.ts imports the new modules. */
export { DUAL_CLASSIFIER } from './dual-run';
