import type { ModelTask, SwapPolicy } from '@app/contracts';

/** Defined by the wire contract (`@app/contracts`), where the model-activated event carries them. */
export type { ModelTask, SwapPolicy };

/** The slice of history a version was trained on (Kafka by offsets or time, or a file). */
export interface DataRange {
  readonly kind: 'kafka' | 'file' | 'upload' | 'import';
  readonly topic?: string;
  readonly labelsTopic?: string;
  readonly fromTime?: string;
  readonly toTime?: string;
  /** Per partition, inclusive start offset (string, 64-bit). */
  readonly fromOffsets?: Readonly<Record<string, string>>;
  /** Per partition, exclusive end offset (string, 64-bit). */
  readonly toOffsets?: Readonly<Record<string, string>>;
  readonly path?: string;
  readonly examples?: number;
}

/** Checksum and size of one stored artifact file. */
export interface StoredFileInfo {
  readonly sha256: string;
  readonly bytes: number;
}

/** Caller-supplied metadata of a new version. */
export interface NewVersionMeta {
  readonly task: ModelTask;
  /** Version this one was trained from or replaces; null for a first version or an import. */
  readonly parentVersion?: number | null;
  readonly dataRange?: DataRange | null;
  /** Holdout metrics (forecast: mae, rmse; classify: accuracy, f1, logLoss). */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Swap policy suggested for activations of this version (activate() may override it). */
  readonly policy?: SwapPolicy;
  readonly source?: 'trained' | 'imported';
  readonly jobId?: string;
  /** Free-form training parameters (hidden units, epochs, seed...). */
  readonly params?: Readonly<Record<string, unknown>>;
  /** Defaults to now (ISO-8601). */
  readonly createdAt?: string;
}

/** Stored metadata of one version. */
export interface ModelVersionMeta {
  readonly model: string;
  readonly version: number;
  readonly createdAt: string;
  readonly parentVersion: number | null;
  readonly task: ModelTask;
  readonly dataRange: DataRange | null;
  readonly metrics: Readonly<Record<string, number>>;
  readonly policy: SwapPolicy;
  readonly source: 'trained' | 'imported';
  readonly jobId: string | null;
  readonly params: Readonly<Record<string, unknown>>;
  /** Every artifact file of the version with its sha256 and size. */
  readonly files: Readonly<Record<string, StoredFileInfo>>;
  /**
   * classify: how workers read a key's text stream (the sidecar's `input.mode`): 'window' =
   * Keras' pad_sequences + predict on the last maxlen tokens, 'stream' = one step per token over
   * the whole stream. Absent for forecasters and for versions stored before modes existed.
   */
  readonly textMode?: 'window' | 'stream';
}

/** The active pointer of a model. */
export interface ActivePointer {
  readonly version: number;
  readonly policy: SwapPolicy;
  readonly activatedAt: string;
  readonly previousVersion: number | null;
  /** Increments on every activation of the model; lets consumers drop stale events. */
  readonly epoch: number;
}

/** The shadow pointer of a model: the version workers step next to the active one. */
export interface ShadowPointer {
  readonly version: number;
  /** ISO-8601, when it was put in shadow. */
  readonly at: string;
  /** Increments on every shadow change of the model (set or stop). */
  readonly epoch: number;
}

/** A model with all its versions (oldest first), its active pointer and its shadow pointer. */
export interface ModelDetails {
  readonly name: string;
  readonly versions: readonly ModelVersionMeta[];
  readonly active: ActivePointer | null;
  readonly shadow: ShadowPointer | null;
}

/** One line of `listModels()`. */
export interface ModelSummary {
  readonly name: string;
  readonly task: ModelTask | null;
  readonly latestVersion: number | null;
  readonly versionCount: number;
  readonly activeVersion: number | null;
  readonly shadowVersion: number | null;
}
