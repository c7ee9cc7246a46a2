/** Old import path of model-fixtures.ts, kept only for hot-swap.e2e-spec.ts and bench/e2e until they import the new modules. */
export { scaleFeatures, stepOutputs, type ForecasterDef } from './model-fixtures';
