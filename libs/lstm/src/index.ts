// preprocess, artifact, backend
/** Keras-compatible tokenizer (reads/writes `Tokenizer.to_json()`), `text_to_word_sequence`. */
export {
  Tokenizer,
  textToWordSequence,
  KERAS_DEFAULT_FILTERS,
  type TokenizerOptions,
  type KerasTokenizerJson,
  type KerasTokenizerConfig,
} from './preprocess/tokenizer';
/** Keras `pad_sequences` (int32 rows). */
export { padSequences, padSequence, type PadSequencesOptions } from './preprocess/pad-sequences';
/** Per-feature standard scaler (sklearn semantics, population std). */
export { StandardScaler, type StandardScalerJson } from './preprocess/standard-scaler';
/** tfjs layers-format model.json: parsing and weight decoding (float32, uint8/uint16/float16 quantized). */
export {
  parseModelJson,
  decodeWeights,
  modelConfigOf,
  weightPaths,
  type LayersModelJson,
  type WeightsManifestGroup,
  type WeightManifestEntry,
  type NamedWeight,
} from './artifact/model-json';
/** Keras/tfjs topology → engine {@link RecurrentModelSpec}; refuses what the engine cannot reproduce. */
export {
  importKerasModel,
  UnsupportedModelError,
  type KerasTopology,
  type ImportedModel,
} from './artifact/keras-import';
/** streamcell.json sidecar: types and validation. */
export {
  parseSidecar,
  checkSidecarAgainstModel,
  SidecarError,
  SIDECAR_FILE,
  MODEL_JSON_FILE,
  SIDECAR_SCHEMA_VERSION,
  MAX_SEQUENCE_TOKENS,
  MAX_WINDOW,
  TEXT_MODES,
  textModeOf,
  type TextMode,
  type StreamcellSidecar,
  type SidecarDraft,
  type ForecastInputSpec,
  type ClassifyInputSpec,
} from './artifact/sidecar';
/** Artifact load (checksums verified) and save, from/to directories or in-memory buffers. */
export {
  loadArtifact,
  loadLayersModel,
  importFromModelJson,
  saveArtifact,
  artifactToBuffers,
  writeArtifactFiles,
  sha256Hex,
  ArtifactIntegrityError,
  type ArtifactSource,
  type ArtifactFiles,
  type ArtifactContents,
  type LoadedArtifact,
} from './artifact/artifact-store';
/** tfjs-layers interop: live model → spec, save to buffers, load from buffers, spec → model. */
export {
  fromTfjsModel,
  saveTfjsModelToBuffers,
  loadTfjsModelFromBuffers,
  toTfjsModel,
  WEIGHTS_FILE,
} from './artifact/tfjs-interop';
/** TensorFlow.js backend choice (node → wasm → cpu) and kernel support checks. */
export {
  initTfBackend,
  currentTfBackend,
  backendSupportsKernel,
  backendForKernels,
  wasmDistDir,
  EMBEDDING_TRAINING_KERNELS,
  type TfBackendChoice,
  type BackendLogger,
} from './backend/tf-backend';
// end preprocess, artifact, backend
// engine
/** Weights contract shared by artifact import, training and the stepping kernels (Keras layout). */
export type {
  Activation,
  LstmLayerSpec,
  GruLayerSpec,
  RecurrentLayerSpec,
  DenseLayerSpec,
  EmbeddingSpec,
  RecurrentModelSpec,
} from './engine/model-spec';
/** Stateful LSTM/GRU stepping on typed arrays (Keras semantics, WASM SIMD or TS kernel). */
export {
  RecurrentModel,
  type RecurrentModelOptions,
  type KernelPreference,
  type StateLayoutEntry,
} from './engine/recurrent-model';
/** Kernel kinds and locating/loading the WASM SIMD kernel. */
export { type KernelKind } from './engine/stepper';
export {
  locateWasmFile,
  locateWasmKernel,
  loadWasmKernel,
  WASM_KERNEL_RELATIVE_PATH,
  type WasmKernelLoad,
  type CompiledWasmModule,
} from './engine/wasm-stepper';
/** Keras' pad_sequences reading of a text on the engine (pad states cached per model). */
export {
  TextWindow,
  MAX_WINDOW_LENGTH,
  type TextWindowOptions,
  type TokenStepEngine,
} from './engine/text-window';
/** Seeded random model specs (tests, benchmarks). */
export {
  randomRecurrentModelSpec,
  seededRandom,
  type RandomModelOptions,
} from './engine/random-spec';
// end engine
