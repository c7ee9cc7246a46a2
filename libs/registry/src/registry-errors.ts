/** Base class of registry errors; `code` is stable and machine-readable. */
export class RegistryError extends Error {
  constructor(
    readonly code: 'invalid_name' | 'not_found' | 'checksum_mismatch' | 'invalid_artifact' | 'conflict',
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** The model or version does not exist. */
export class ModelNotFoundError extends RegistryError {
  constructor(message: string) {
    super('not_found', message);
    this.name = 'ModelNotFoundError';
  }
}

/** A stored or supplied file does not match its recorded sha256. */
export class ChecksumMismatchError extends RegistryError {
  constructor(message: string) {
    super('checksum_mismatch', message);
    this.name = 'ChecksumMismatchError';
  }
}

/** The supplied files are not a valid artifact (missing sidecar, bad JSON, ...). */
export class InvalidArtifactError extends RegistryError {
  constructor(message: string) {
    super('invalid_artifact', message);
    this.name = 'InvalidArtifactError';
  }
}

/** The request contradicts the model's current pointers (e.g. promoting a version that is not in shadow). */
export class RegistryConflictError extends RegistryError {
  constructor(message: string) {
    super('conflict', message);
    this.name = 'RegistryConflictError';
  }
}
