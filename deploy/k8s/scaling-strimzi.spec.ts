/**
 * The autoscaling components and the Strimzi overlay, rendered (kustomize-render.ts) and checked
 * against the apps: the scalers target the worker Deployment with the worker's brokers and group
 * and stop at the input partition count; the KafkaTopics are the topics the worker would create,
 * with the same partitions and configs; each app logs in as its KafkaUser with a rendered
 * environment its own boot validation accepts; and each user's ACLs are exactly what the app's
 * configuration makes it read and write.
 */
import { join } from 'node:path';
import {
  WORKER_ENV,
  loadWorkerConfig,
  type WorkerConfig,
} from '../../apps/stream-worker/src/config/worker-config';
import { workerTopics } from '../../apps/stream-worker/src/runtime/worker-runtime';
import {
  TRAINER_ENV,
  loadTrainerConfig,
  type TrainerConfig,
} from '../../apps/trainer/src/config/trainer-config';
import { TRAINING_GROUP_PREFIX } from '../../apps/trainer/src/training/train-job';
import { applyComponent, findObject, renderKustomization, type K8sObject } from './kustomize-render';

const K8S = __dirname;
const FAKE_SECRET = 'secret-from-kubernetes-0123';

/** The environment of a Deployment's first container: ConfigMaps inlined, secret references faked. */
function containerEnv(objects: readonly K8sObject[], deployment: string): Record<string, string> {
  const c = findObject(objects, 'Deployment', deployment).spec.template.spec.containers[0];
  const out: Record<string, string> = {};
  for (const from of c.envFrom ?? [])
    Object.assign(out, findObject(objects, 'ConfigMap', from.configMapRef.name).data);
  for (const e of c.env ?? []) out[e.name] = e.value ?? (e.valueFrom?.secretKeyRef ? FAKE_SECRET : '');
  return out;
}

function secretRef(
  objects: readonly K8sObject[],
  deployment: string,
  variable: string,
): { name: string; key: string } {
  const c = findObject(objects, 'Deployment', deployment).spec.template.spec.containers[0];
  return c.env.find((e: { name: string }) => e.name === variable).valueFrom.secretKeyRef;
}

const base = renderKustomization(join(K8S, 'base'));
const worker = loadWorkerConfig(containerEnv(base, 'stream-worker'));
/** Input partitions: one worker per partition is the most the group can use. */
const inputPartitions = workerTopics(worker)
  .filter((t) => t.topic === worker.sensorTopic || t.topic === worker.textTopic)
  .reduce((n, t) => n + (t.partitions ?? 1), 0);

describe('deploy/k8s/autoscaling', () => {
  it('keda: scales the worker Deployment on its own group and brokers, up to the input partition count', () => {
    const objects = applyComponent(renderKustomization(join(K8S, 'base')), join(K8S, 'autoscaling', 'keda'));
    const so = findObject(objects, 'ScaledObject', 'stream-worker');
    findObject(objects, 'Deployment', so.spec.scaleTargetRef.name);
    // The autoscaler owns the replica count once the component is in.
    expect(findObject(objects, 'Deployment', 'stream-worker').spec.replicas).toBeUndefined();
    expect(so.spec.maxReplicaCount).toBe(inputPartitions);
    expect(so.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    const [trigger, ...others] = so.spec.triggers;
    expect(others).toEqual([]);
    expect(trigger.type).toBe('kafka');
    expect(trigger.metadata.bootstrapServers.split(',')).toEqual(worker.kafkaBrokers);
    expect(trigger.metadata.consumerGroup).toBe(worker.kafkaGroupId);
    // No topic: every topic the group consumes (both inputs), capped at their partitions.
    expect(trigger.metadata.topic).toBeUndefined();
    expect(trigger.metadata.allowIdleConsumers).toBe('false');
    expect(Number(trigger.metadata.lagThreshold)).toBeGreaterThan(0);
    expectSlowerDownThanUp(so.spec.advanced.horizontalPodAutoscalerConfig.behavior);
  });

  it('hpa: the same target, bounds and behaviour on CPU, with a CPU request to measure against', () => {
    const objects = applyComponent(renderKustomization(join(K8S, 'base')), join(K8S, 'autoscaling', 'hpa'));
    const hpa = findObject(objects, 'HorizontalPodAutoscaler', 'stream-worker');
    const deployment = findObject(objects, 'Deployment', hpa.spec.scaleTargetRef.name);
    expect(deployment.spec.replicas).toBeUndefined();
    expect(hpa.spec.maxReplicas).toBe(inputPartitions);
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    expect(deployment.spec.template.spec.containers[0].resources.requests.cpu).toBeDefined();
    const keda = applyComponent(renderKustomization(join(K8S, 'base')), join(K8S, 'autoscaling', 'keda'));
    expect(hpa.spec.behavior).toEqual(
      findObject(keda, 'ScaledObject', 'stream-worker').spec.advanced.horizontalPodAutoscalerConfig.behavior,
    );
  });
});

/** Rebalances make lag spike: scale up only after a window longer than one, down more slowly still, one pod at a time. */
function expectSlowerDownThanUp(behavior: {
  scaleUp: { stabilizationWindowSeconds: number };
  scaleDown: { stabilizationWindowSeconds: number; policies: { type: string; value: number }[] };
}): void {
  expect(behavior.scaleUp.stabilizationWindowSeconds).toBeGreaterThanOrEqual(60);
  expect(behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThan(
    behavior.scaleUp.stabilizationWindowSeconds,
  );
  expect(behavior.scaleDown.policies).toEqual([expect.objectContaining({ type: 'Pods', value: 1 })]);
}

describe('deploy/k8s/overlays/strimzi', () => {
  const objects = renderKustomization(join(K8S, 'overlays', 'strimzi'));
  const kafka = findObject(objects, 'Kafka', 'streamcell');
  const workerEnv = containerEnv(objects, 'stream-worker');
  const trainerEnv = containerEnv(objects, 'trainer');
  const w: WorkerConfig = loadWorkerConfig(workerEnv);
  const t: TrainerConfig = loadTrainerConfig(trainerEnv);

  it('renders environments the apps accept, declaring only their variables', () => {
    expect(Object.keys(workerEnv).filter((k) => !(k in WORKER_ENV))).toEqual([]);
    expect(Object.keys(trainerEnv).filter((k) => !(k in TRAINER_ENV))).toEqual([]);
  });

  it('runs a KRaft cluster of node pools whose resources all belong to it', () => {
    expect(kafka.metadata.annotations).toMatchObject({
      'strimzi.io/node-pools': 'enabled',
      'strimzi.io/kraft': 'enabled',
    });
    const pools = objects.filter((o) => o.kind === 'KafkaNodePool');
    expect(pools.flatMap((p) => p.spec.roles).sort()).toEqual(['broker', 'controller']);
    const replicas = pools.reduce((n, p) => n + p.spec.replicas, 0);
    for (const o of objects.filter(
      (x) => x.apiVersion.startsWith('kafka.strimzi.io/') && x.kind !== 'Kafka',
    )) {
      expect(o.metadata.labels?.['strimzi.io/cluster']).toBe(kafka.metadata.name);
      if (o.kind === 'KafkaTopic') expect(o.spec.replicas).toBeLessThanOrEqual(replicas);
    }
    expect(kafka.spec.kafka.config['auto.create.topics.enable']).toBe(false);
  });

  it('declares exactly the topics the worker would create, with their partitions and configs', () => {
    const declared = objects
      .filter((o) => o.kind === 'KafkaTopic')
      .map((o) => ({ topic: o.spec.topicName, partitions: o.spec.partitions, configs: o.spec.config }));
    const expected = workerTopics(w).map((s) => ({
      topic: s.topic,
      partitions: s.partitions,
      configs: s.configs,
    }));
    expect(declared.sort(byTopic)).toEqual(expected.sort(byTopic));
    expect(t.modelsTopic).toBe(w.modelsTopic);
  });

  it('points both apps at the SCRAM listener, logged in as their own KafkaUser', () => {
    const listener = kafka.spec.kafka.listeners.find(
      (l: { authentication?: { type: string } }) => l.authentication,
    );
    expect(w.kafkaBrokers).toEqual([`${kafka.metadata.name}-kafka-bootstrap:${listener.port}`]);
    expect(t.kafkaBrokers).toEqual(w.kafkaBrokers);
    for (const [deployment, config] of [
      ['stream-worker', w],
      ['trainer', t],
    ] as const) {
      expect(config.kafkaSasl).toMatchObject({
        mechanism: listener.authentication.type,
        password: FAKE_SECRET,
      });
      const user = findObject(objects, 'KafkaUser', config.kafkaSasl!.username);
      expect(user.spec.authentication.type).toBe(listener.authentication.type);
      // Strimzi's user operator writes the password into a Secret named after the user.
      expect(secretRef(objects, deployment, 'KAFKA_SASL_PASSWORD')).toEqual({
        name: user.metadata.name,
        key: 'password',
      });
    }
    expect(kafka.spec.kafka.authorization.type).toBe('simple');
  });

  it('grants each user exactly what its app reads and writes', () => {
    const topic = (name: string, op: 'Read' | 'Write') =>
      name.endsWith('*')
        ? [`topic:${name.slice(0, -1)}:prefix:${op}`, `topic:${name.slice(0, -1)}:prefix:Describe`]
        : [`topic:${name}:literal:${op}`, `topic:${name}:literal:Describe`];
    const expected = {
      // Inputs in the worker group; model activations in per-process groups "<group>.models.…";
      // predictions and dead letters out.
      [w.kafkaSasl!.username]: [
        ...topic(w.sensorTopic, 'Read'),
        ...topic(w.textTopic, 'Read'),
        ...topic(w.modelsTopic, 'Read'),
        ...topic(w.forecastTopic, 'Write'),
        ...topic(w.classificationTopic, 'Write'),
        ...topic(w.dlqTopic, 'Write'),
        `group:${w.kafkaGroupId}:prefix:Read`,
      ],
      // Activations out; training reads of the topics it may train from (TRAINER_SOURCE_TOPICS)
      // and backtest reads of the forecast input topic, in throw-away groups it deletes; key
      // reset control records out to the input topics.
      [t.kafkaSasl!.username]: [
        ...new Set([
          ...topic(t.modelsTopic, 'Write'),
          ...t.sourceTopics.flatMap((name) => topic(name, 'Read')),
          ...topic(t.inputTopics.forecast, 'Read'),
          ...topic(t.inputTopics.forecast, 'Write'),
          ...topic(t.inputTopics.classify, 'Write'),
          `group:${TRAINING_GROUP_PREFIX}:prefix:Read`,
          `group:${TRAINING_GROUP_PREFIX}:prefix:Delete`,
        ]),
      ],
    };
    const users = objects.filter((o) => o.kind === 'KafkaUser');
    expect(users.map((u) => u.metadata.name).sort()).toEqual(Object.keys(expected).sort());
    for (const u of users) {
      const granted = u.spec.authorization.acls.flatMap(
        (a: { resource: { type: string; name: string; patternType: string }; operations: string[] }) =>
          a.operations.map((op) => `${a.resource.type}:${a.resource.name}:${a.resource.patternType}:${op}`),
      );
      expect(granted.sort()).toEqual(expected[u.metadata.name].sort());
    }
  });
});

function byTopic(a: { topic: string }, b: { topic: string }): number {
  return a.topic.localeCompare(b.topic);
}
