/**
 * Renders the Kustomize trees of deploy/k8s the way `kubectl kustomize` does, for the subset of
 * Kustomize they use: `resources` (files and directories), `components`, inline JSON 6902
 * `patches` targeted by kind and name, `namespace` and `secretGenerator` literals (labels and
 * images do not change what the checks read). No kubectl is reachable from the test machines;
 * anything outside that subset is refused, so a new feature cannot be silently skipped.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/** One rendered Kubernetes object. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  data?: Record<string, string>;
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface Kustomization {
  kind?: string;
  namespace?: string;
  resources?: string[];
  components?: string[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
  secretGenerator?: { name: string; literals?: string[] }[];
  labels?: unknown;
  images?: unknown;
}

const KNOWN_KEYS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'components',
  'patches',
  'secretGenerator',
  'labels',
  'images',
]);

/** The objects of a kustomization directory, rendered. */
export function renderKustomization(dir: string): K8sObject[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const unknown = Object.keys(k).filter((key) => !KNOWN_KEYS.has(key));
  if (unknown.length > 0)
    throw new Error(`${dir}/kustomization.yaml: unsupported fields ${unknown.join(', ')}`);
  let objects: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const path = join(dir, r);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : loadYaml(path)));
  }
  for (const g of k.secretGenerator ?? []) {
    const data = Object.fromEntries(
      (g.literals ?? []).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: g.name }, data });
  }
  for (const c of k.components ?? []) objects = applyComponent(objects, join(dir, c));
  objects = applyPatches(objects, k.patches ?? [], dir);
  if (k.namespace) for (const o of objects) if (o.kind !== 'Namespace') o.metadata.namespace = k.namespace;
  return objects;
}

/** Adds a Kustomize Component's resources to rendered objects and applies its patches. */
export function applyComponent(objects: K8sObject[], component: string): K8sObject[] {
  const ck = parse(readFileSync(join(component, 'kustomization.yaml'), 'utf8')) as Kustomization;
  if (ck.kind !== 'Component') throw new Error(`${component} is not a Kustomize Component`);
  return applyPatches(
    [...objects, ...(ck.resources ?? []).flatMap((r) => loadYaml(join(component, r)))],
    ck.patches ?? [],
    component,
  );
}

/** The object of a kind and name; throws when absent. */
export function findObject(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
}

/** Every document of a YAML file. */
export function loadYaml(path: string): K8sObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors[0].message}`);
    return d.toJS() as K8sObject;
  });
}

function applyPatches(
  objects: K8sObject[],
  patches: NonNullable<Kustomization['patches']>,
  where: string,
): K8sObject[] {
  for (const p of patches) {
    const targets = objects.filter((o) => o.kind === p.target.kind && o.metadata.name === p.target.name);
    if (targets.length !== 1)
      throw new Error(
        `${where}: patch target ${p.target.kind} ${p.target.name} matches ${targets.length} objects`,
      );
    for (const op of parse(p.patch) as { op: string; path: string; value?: unknown }[])
      applyOperation(targets[0], op, where);
  }
  return objects;
}

/** One JSON 6902 operation (add, replace, remove) on an object. */
function applyOperation(
  target: K8sObject,
  op: { op: string; path: string; value?: unknown },
  where: string,
): void {
  const keys = op.path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop()!;
  let node: any = target; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const key of keys) {
    node = node?.[Array.isArray(node) ? Number(key) : key];
    if (node === undefined)
      throw new Error(
        `${where}: ${op.op} ${op.path}: no such path in ${target.kind} ${target.metadata.name}`,
      );
  }
  const exists = Array.isArray(node) ? last === '-' || Number(last) < node.length : last in node;
  switch (op.op) {
    case 'add':
      if (Array.isArray(node)) node.splice(last === '-' ? node.length : Number(last), 0, op.value);
      else node[last] = op.value;
      return;
    case 'replace':
    case 'remove':
      if (!exists)
        throw new Error(
          `${where}: ${op.op} ${op.path}: nothing there in ${target.kind} ${target.metadata.name}`,
        );
      if (op.op === 'remove') {
        if (Array.isArray(node)) node.splice(Number(last), 1);
        else delete node[last];
      } else node[Array.isArray(node) ? Number(last) : last] = op.value;
      return;
    default:
      throw new Error(`${where}: unsupported patch operation ${op.op}`);
  }
}
