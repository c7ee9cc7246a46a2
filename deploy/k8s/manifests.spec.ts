/**
 * The Kubernetes manifests against the apps they run: every variable a Deployment sets is one the
 * app declares (a misspelt name would be ignored silently at boot), the set passes the app's own
 * boot validation, ports and probes point at what the app serves, and the commands name real
 * entry points.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { WORKER_ENV, loadWorkerConfig } from '../../apps/stream-worker/src/config/worker-config';
import { TRAINER_ENV, loadTrainerConfig } from '../../apps/trainer/src/config/trainer-config';

interface K8sObject {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const ROOT = join(__dirname, '..', '..');
const BASE = join(__dirname, 'base');

function load(dir: string): K8sObject[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => {
        if (d.errors.length > 0) throw new Error(`${f}: ${d.errors[0].message}`);
        return d.toJS() as K8sObject;
      }),
    );
}

const objects = load(BASE);
const byKind = (kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in deploy/k8s/base`);
  return o;
};

/** The environment a Deployment's first container gets (ConfigMaps inlined, secrets faked). */
function containerEnv(deployment: K8sObject): Record<string, string> {
  const c = deployment.spec.template.spec.containers[0];
  const out: Record<string, string> = {};
  for (const from of c.envFrom ?? []) Object.assign(out, byKind('ConfigMap', from.configMapRef.name).data);
  for (const e of c.env ?? [])
    out[e.name] = e.value ?? (e.valueFrom?.secretKeyRef ? 'secret-from-kubernetes-0123' : '');
  return out;
}

const apps = [
  {
    name: 'stream-worker',
    spec: WORKER_ENV,
    load: loadWorkerConfig,
    portVar: 'HTTP_PORT',
    probes: ['/health', '/health/ready'],
  },
  {
    name: 'trainer',
    spec: TRAINER_ENV,
    load: loadTrainerConfig,
    portVar: 'TRAINER_PORT',
    probes: ['/health'],
  },
] as const;

describe('deploy/k8s/base', () => {
  it.each(apps)('$name sets only variables the app declares, and they pass its boot validation', (app) => {
    const env = containerEnv(byKind('Deployment', app.name));
    expect(Object.keys(env).filter((k) => !(k in app.spec))).toEqual([]);
    expect(() => app.load(env)).not.toThrow();
  });

  it.each(apps)('$name exposes the configured port and probes routes the app serves', (app) => {
    const d = byKind('Deployment', app.name);
    const c = d.spec.template.spec.containers[0];
    const env = containerEnv(d);
    const port = c.ports.find((p: { name: string }) => p.name === 'http');
    expect(String(port.containerPort)).toBe(env[app.portVar]);
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      expect(c[probe].httpGet.port).toBe('http');
      expect(app.probes).toContain(c[probe].httpGet.path);
    }
    const svc = byKind('Service', app.name);
    expect(svc.spec.selector).toEqual(d.spec.selector.matchLabels);
    expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
  });

  it.each(apps)('$name runs a real entry point of the image, unprivileged', (app) => {
    const d = byKind('Deployment', app.name);
    const c = d.spec.template.spec.containers[0];
    // dist/apps/<app>/src/main.js is the compiled apps/<app>/src/main.ts.
    expect(c.command).toEqual(['node', `dist/apps/${app.name}/src/main.js`]);
    expect(existsSync(join(ROOT, 'apps', app.name, 'src', 'main.ts'))).toBe(true);
    expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toContain('/tmp');
  });

  it('gives a stopping worker more time than its 10 s drain, and keeps workers available', () => {
    const d = byKind('Deployment', 'stream-worker');
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(10);
    expect(byKind('PodDisruptionBudget', 'stream-worker').spec.selector.matchLabels).toEqual(
      d.spec.selector.matchLabels,
    );
  });

  it('points the local overlay at its own Kafka and Redis', () => {
    const overlay = readFileSync(join(__dirname, 'overlays', 'local', 'kustomization.yaml'), 'utf8');
    const local = load(join(__dirname, 'overlays', 'local'));
    const kafka = local.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'kafka');
    const advertised = kafka?.spec.template.spec.containers[0].env.find(
      (e: { name: string }) => e.name === 'KAFKA_ADVERTISED_HOST',
    );
    expect(overlay).toContain(`value: ${advertised.value}:9092`);
    expect(local.some((o) => o.kind === 'StatefulSet' && o.metadata.name === 'redis')).toBe(true);
    expect(overlay).toContain('value: redis://redis-0.redis:6379');
  });
});
