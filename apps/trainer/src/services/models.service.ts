import { assertModelName, type ModelRegistry, type ModelTask, type SwapPolicy } from '@app/registry';
import { ImportError, prepareImport, type ImportOptions } from '../training/import-artifact';
import { InvalidRequestError } from './invalid-request.error';

/** How a version is imported (the HTTP body's fields, the CLI's options). */
export interface ImportRequest extends Omit<ImportOptions, 'name'> {
  /** Swap policy recorded with the version (default reset). */
  readonly policy?: SwapPolicy;
  /** Activate the new version at once. */
  readonly activate?: boolean;
  /** Where the files came from (recorded in the version's data range). */
  readonly path?: string;
  /** Free text recorded with the version. */
  readonly note?: string;
}

/**
 * Models and versions, the rules both the admin API and the CLI follow: a model keeps one task
 * (its versions' task), imports are checked as artifacts before they are stored, names are
 * registry names.
 */
export class ModelsService {
  constructor(private readonly registry: ModelRegistry) {}

  /** Checks a model name (registry rules); returns it. */
  static modelName(name: string): string {
    try {
      assertModelName(name);
    } catch (err) {
      throw new InvalidRequestError(`name: ${(err as Error).message}`);
    }
    return name;
  }

  /** The task of the model's latest version (null: no versions yet). */
  async taskOf(name: string): Promise<ModelTask | null> {
    const existing = await this.registry.getModel(name);
    return existing?.versions[existing.versions.length - 1]?.task ?? null;
  }

  /**
   * The task a new version of `name` has: the requested one, else the model's, else `guess`;
   * a model never changes its task.
   */
  async taskFor(name: string, requested: ModelTask | undefined, guess?: ModelTask): Promise<ModelTask> {
    const latest = await this.taskOf(name);
    const task = requested ?? latest ?? guess;
    if (!task)
      throw new InvalidRequestError('task must be one of forecast, classify (the model has no versions yet)');
    if (latest && task !== latest) throw new InvalidRequestError(`task must be ${latest} (the model's task)`);
    return task;
  }

  /**
   * Imports an artifact (converted Keras or tfjs files, sidecar or tokenizer) as a new version:
   * checked like every stored artifact, refused when its task is not the model's, then stored
   * and, when asked, activated.
   */
  async importVersion(name: string, files: ReadonlyMap<string, Buffer>, request: ImportRequest = {}) {
    ModelsService.modelName(name);
    const { policy, activate, path, note, ...options } = request;
    let prepared;
    try {
      prepared = await prepareImport(new Map(files), { name, ...options });
    } catch (err) {
      if (err instanceof ImportError) throw new InvalidRequestError(err.message);
      throw err;
    }
    await this.taskFor(name, prepared.task);
    const version = await this.registry.createVersion(name, prepared.files, {
      task: prepared.task,
      parentVersion: null,
      dataRange: path === undefined ? { kind: 'import' } : { kind: 'import', path },
      source: 'imported',
      policy: policy ?? 'reset',
      params: note ? { note } : {},
    });
    const active = activate === true ? await this.registry.activate(name, version) : null;
    return { model: name, version, task: prepared.task, active };
  }
}
