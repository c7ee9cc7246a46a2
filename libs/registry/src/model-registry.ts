import type { Cluster, Redis } from 'ioredis';
import { sha256Hex } from './checksum';
import { SIDECAR_FILE, sidecarTextMode, verifyArtifact } from './artifact-check';
import { ChecksumMismatchError, InvalidArtifactError, ModelNotFoundError, RegistryConflictError } from './registry-errors';
import { RegistryKeys, assertModelName } from './registry-keys';
import type { ModelEventPublisher } from './model-event-publisher';
import type {
  ActivePointer,
  ModelDetails,
  ModelSummary,
  ModelVersionMeta,
  NewVersionMeta,
  ShadowPointer,
  StoredFileInfo,
  SwapPolicy,
} from './registry.types';

/** Options of {@link ModelRegistry}. */
export interface ModelRegistryOptions {
  /** Key prefix (default `reg`). */
  readonly keyPrefix?: string;
  /** Clock, for tests. */
  readonly now?: () => Date;
  /** Verify each new version with @app/lstm's loadArtifact (default true). */
  readonly verifySidecar?: boolean;
}

/**
 * Sets the active pointer atomically: the version must exist; returns the previous version
 * (or -1) and the new epoch. KEYS: versions hash, active hash. ARGV: version, policy, at.
 */
const ACTIVATE_LUA = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {-2, 0} end
local prev = redis.call('HGET', KEYS[2], 'version')
local epoch = redis.call('HINCRBY', KEYS[2], 'epoch', 1)
redis.call('HSET', KEYS[2], 'version', ARGV[1], 'policy', ARGV[2], 'activatedAt', ARGV[3], 'previousVersion', prev or '')
if prev then return {tonumber(prev), epoch} end
return {-1, epoch}
`;

/**
 * Sets the shadow pointer: the version must exist (-2) and not be the active one (-3); returns
 * the new shadow epoch. KEYS: versions hash, active hash, shadow hash. ARGV: version, at.
 */
const SET_SHADOW_LUA = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -2 end
if redis.call('HGET', KEYS[2], 'version') == ARGV[1] then return -3 end
local epoch = redis.call('HINCRBY', KEYS[3], 'epoch', 1)
redis.call('HSET', KEYS[3], 'version', ARGV[1], 'at', ARGV[2])
return epoch
`;

/**
 * Clears the shadow pointer when it holds ARGV[2] (or any version when ARGV[2] is ''); returns
 * {stopped version, new epoch}, or {-1, 0} when there was nothing to clear. KEYS: shadow hash.
 * ARGV: at, version.
 */
const CLEAR_SHADOW_LUA = `
local v = redis.call('HGET', KEYS[1], 'version')
if not v or v == '' or (ARGV[2] ~= '' and v ~= ARGV[2]) then return {-1, 0} end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'version', '', 'at', ARGV[1])
return {tonumber(v), epoch}
`;

type RedisLike = Redis | Cluster;

/**
 * Model versions, artifacts, the active and shadow pointers in Redis, activation and shadow events through a
 * {@link ModelEventPublisher}. Framework-free; the Nest module wraps it.
 *
 * Layout (hash tag per model, cluster-safe): `reg:{m}:seq` (INCR), `reg:{m}:versions`
 * (version → metadata JSON), `reg:{m}:files:<v>` (file name → bytes), `reg:{m}:active`
 * (pointer hash), `reg:{m}:shadow` (shadow pointer hash), `reg:index` (set of names).
 */
export class ModelRegistry {
  private readonly keys: RegistryKeys;
  private readonly now: () => Date;
  private readonly verifySidecar: boolean;

  constructor(
    private readonly redis: RedisLike,
    private readonly publisher: ModelEventPublisher,
    options: ModelRegistryOptions = {},
  ) {
    this.keys = new RegistryKeys(options.keyPrefix ?? 'reg');
    this.now = options.now ?? (() => new Date());
    this.verifySidecar = options.verifySidecar ?? true;
  }

  /**
   * Stores a new version and returns its number (monotonically increasing per model, from 1).
   * The sidecar's recorded checksums are verified first; the registry records its own sha256
   * of every file (sidecar included) and checks them again on every read.
   */
  async createVersion(name: string, files: ReadonlyMap<string, Buffer>, meta: NewVersionMeta): Promise<number> {
    assertModelName(name);
    if (files.size === 0) throw new InvalidArtifactError('a version needs at least one file');
    if (this.verifySidecar) await verifyArtifact(files);
    const infos: Record<string, StoredFileInfo> = {};
    for (const [file, data] of files) {
      if (!file || file.length > 255) throw new InvalidArtifactError(`invalid file name ${JSON.stringify(file)}`);
      infos[file] = { sha256: sha256Hex(data), bytes: data.length };
    }
    const version = await this.redis.incr(this.keys.seq(name));
    let record: ModelVersionMeta = {
      model: name,
      version,
      createdAt: meta.createdAt ?? this.now().toISOString(),
      parentVersion: meta.parentVersion ?? null,
      task: meta.task,
      dataRange: meta.dataRange ?? null,
      metrics: meta.metrics ?? {},
      policy: meta.policy ?? 'reset',
      source: meta.source ?? 'trained',
      jobId: meta.jobId ?? null,
      params: meta.params ?? {},
      files: infos,
    };
    const textMode = sidecarTextMode(files);
    if (textMode !== null) record = { ...record, textMode };
    const fileArgs: (string | Buffer)[] = [];
    for (const [file, data] of files) fileArgs.push(file, data);
    // Files first, metadata last, in one transaction: a version is visible only when complete.
    const res = await this.redis
      .multi()
      .hset(this.keys.files(name, version), ...fileArgs)
      .hset(this.keys.versions(name), String(version), JSON.stringify(record))
      .exec();
    for (const [err] of res ?? []) if (err) throw err;
    await this.redis.sadd(this.keys.index(), name);
    return version;
  }

  /** Every model with its latest and active version, sorted by name. */
  async listModels(): Promise<ModelSummary[]> {
    const names = (await this.redis.smembers(this.keys.index())).sort();
    const out: ModelSummary[] = [];
    for (const name of names) {
      const details = await this.getModel(name);
      if (!details) continue;
      const latest = details.versions[details.versions.length - 1];
      out.push({
        name,
        task: latest?.task ?? null,
        latestVersion: latest?.version ?? null,
        versionCount: details.versions.length,
        activeVersion: details.active?.version ?? null,
        shadowVersion: details.shadow?.version ?? null,
      });
    }
    return out;
  }

  /** A model's versions (oldest first) and active pointer, or null when it has no versions. */
  async getModel(name: string): Promise<ModelDetails | null> {
    assertModelName(name);
    const [all, active, shadow] = await Promise.all([
      this.redis.hgetall(this.keys.versions(name)),
      this.getActive(name),
      this.getShadow(name),
    ]);
    const versions = Object.values(all)
      .map((json) => JSON.parse(json) as ModelVersionMeta)
      .sort((a, b) => a.version - b.version);
    if (versions.length === 0) return null;
    return { name, versions, active, shadow };
  }

  /** Metadata of one version, or null. */
  async getVersion(name: string, version: number): Promise<ModelVersionMeta | null> {
    assertModelName(name);
    const json = await this.redis.hget(this.keys.versions(name), String(version));
    return json ? (JSON.parse(json) as ModelVersionMeta) : null;
  }

  /**
   * The files of one version, each checked against the sha256 recorded at creation.
   * Throws ModelNotFoundError or ChecksumMismatchError.
   */
  async loadVersionFiles(name: string, version: number): Promise<Map<string, Buffer>> {
    const meta = await this.getVersion(name, version);
    if (!meta) throw new ModelNotFoundError(`model ${name} has no version ${version}`);
    const stored = await this.redis.hgetallBuffer(this.keys.files(name, version));
    const files = new Map<string, Buffer>();
    for (const [file, info] of Object.entries(meta.files)) {
      const data = stored[file];
      if (!data) throw new ChecksumMismatchError(`${name} v${version}: file ${file} is missing`);
      const sum = sha256Hex(data);
      if (sum !== info.sha256) {
        throw new ChecksumMismatchError(`${name} v${version}: ${file} sha256 ${sum} != recorded ${info.sha256}`);
      }
      files.set(file, data);
    }
    return files;
  }

  /**
   * Makes `version` the active one and publishes a model-activated event. Re-activating the
   * active version publishes again (useful after a failed publish). `policy` defaults to the
   * version's recorded policy.
   */
  async activate(name: string, version: number, policy?: SwapPolicy): Promise<ActivePointer> {
    const meta = await this.getVersion(name, version);
    if (!meta) throw new ModelNotFoundError(`model ${name} has no version ${version}`);
    const effective = policy ?? meta.policy;
    const at = this.now().toISOString();
    const [prev, epoch] = (await this.redis.eval(
      ACTIVATE_LUA,
      2,
      this.keys.versions(name),
      this.keys.active(name),
      String(version),
      effective,
      at,
    )) as [number, number];
    if (prev === -2) throw new ModelNotFoundError(`model ${name} has no version ${version}`);
    const pointer: ActivePointer = {
      version,
      policy: effective,
      activatedAt: at,
      previousVersion: prev >= 0 ? prev : null,
      epoch,
    };
    const files = fileChecksums(meta);
    await this.publisher.publishActivated({
      type: 'model.activated',
      model: name,
      version,
      previousVersion: pointer.previousVersion,
      task: meta.task,
      policy: effective,
      epoch,
      activatedAt: at,
      files,
      ...(files[SIDECAR_FILE] ? { checksum: files[SIDECAR_FILE] } : {}),
    });
    // The version left the shadow: workers stop stepping it as a challenger.
    await this.clearShadow(name, version);
    return pointer;
  }

  /**
   * Puts `version` in shadow next to the active version (replacing any other shadow) and
   * publishes a model-shadow event: workers step it on every event of the model's topic with
   * its own per-key state and publish nothing of it to the prediction topics. Throws
   * ModelNotFoundError for an unknown version and RegistryConflictError for the active one.
   */
  async setShadow(name: string, version: number): Promise<ShadowPointer> {
    const meta = await this.getVersion(name, version);
    if (!meta) throw new ModelNotFoundError(`model ${name} has no version ${version}`);
    const at = this.now().toISOString();
    const epoch = (await this.redis.eval(
      SET_SHADOW_LUA,
      3,
      this.keys.versions(name),
      this.keys.active(name),
      this.keys.shadow(name),
      String(version),
      at,
    )) as number;
    if (epoch === -2) throw new ModelNotFoundError(`model ${name} has no version ${version}`);
    if (epoch === -3) throw new RegistryConflictError(`model ${name} v${version} is the active version; only another version can run in shadow`);
    const files = fileChecksums(meta);
    await this.publisher.publishShadow({
      type: 'model.shadow',
      model: name,
      version,
      task: meta.task,
      ...(files[SIDECAR_FILE] ? { checksum: files[SIDECAR_FILE] } : {}),
      files,
      at,
      epoch,
    });
    return { version, at, epoch };
  }

  /**
   * Stops the model's shadow and publishes the change; returns the stopped pointer, or null when
   * the model had no shadow (or, with `onlyVersion`, a shadow of another version).
   */
  async clearShadow(name: string, onlyVersion?: number): Promise<ShadowPointer | null> {
    assertModelName(name);
    const at = this.now().toISOString();
    const [stopped, epoch] = (await this.redis.eval(
      CLEAR_SHADOW_LUA,
      1,
      this.keys.shadow(name),
      at,
      onlyVersion === undefined ? '' : String(onlyVersion),
    )) as [number, number];
    if (stopped < 0) return null;
    await this.publisher.publishShadow({ type: 'model.shadow', model: name, version: null, at, epoch });
    return { version: stopped, at, epoch };
  }

  /**
   * Promotes the shadow version: activates it with the `warm` swap policy (each key whose state
   * is of the old version takes the state the shadow computed for it), then clears the shadow.
   * Throws ModelNotFoundError for an unknown version and RegistryConflictError unless `version`
   * is the model's shadow.
   */
  async promoteShadow(name: string, version: number): Promise<ActivePointer> {
    if (!(await this.getVersion(name, version))) throw new ModelNotFoundError(`model ${name} has no version ${version}`);
    const shadow = await this.getShadow(name);
    if (shadow?.version !== version) {
      throw new RegistryConflictError(
        `model ${name} v${version} is not in shadow (shadow: ${shadow === null ? 'none' : `v${shadow.version}`}); put it in shadow first`,
      );
    }
    return this.activate(name, version, 'warm');
  }

  /** The shadow pointer, or null when the model has no shadow version. */
  async getShadow(name: string): Promise<ShadowPointer | null> {
    assertModelName(name);
    const h = await this.redis.hgetall(this.keys.shadow(name));
    if (!h.version) return null;
    return { version: Number(h.version), at: h.at ?? '', epoch: Number(h.epoch ?? 0) };
  }

  /** The active pointer, or null when no version was ever activated. */
  async getActive(name: string): Promise<ActivePointer | null> {
    assertModelName(name);
    const h = await this.redis.hgetall(this.keys.active(name));
    if (!h.version) return null;
    return {
      version: Number(h.version),
      policy: (h.policy as SwapPolicy) ?? 'reset',
      activatedAt: h.activatedAt ?? '',
      previousVersion: h.previousVersion ? Number(h.previousVersion) : null,
      epoch: Number(h.epoch ?? 0),
    };
  }
}

/** sha256 of every file of a version, by file name (what model events carry). */
function fileChecksums(meta: ModelVersionMeta): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [file, info] of Object.entries(meta.files)) files[file] = info.sha256;
  return files;
}
