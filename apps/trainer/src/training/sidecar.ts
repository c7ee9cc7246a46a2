export { MODEL_JSON_FILE as MODEL_FILE, SIDECAR_FILE, WEIGHTS_FILE } from './preprocess';
export type { StreamcellSidecar as TrainerSidecar, SidecarDraft } from './preprocess';
