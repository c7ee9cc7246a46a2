/**
 * The dashboard, the alert rules, their tests and the runbook against the apps: every metric a
 * query names is one the worker's or the trainer's registry exports, every alert is unit-tested
 * (alerts.test.yml) and has a runbook section, and the scrape jobs are the ones the rules select.
 * (PromQL syntax and results are checked against a real Prometheus in test/prometheus.e2e-spec.ts.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { WorkerMetrics } from '../../apps/stream-worker/src/observability/worker-metrics';
import { TrainerMetrics } from '../../apps/trainer/src/http/trainer-metrics';
import {
  DEPLOY_DIR,
  METRICS_NOT_YET_EXPORTED,
  alertGroups,
  alertQueries,
  dashboard,
  dashboardQueries,
  metricFamily,
  metricNames,
} from './shipped-queries';

const ROOT = join(DEPLOY_DIR, '..');

async function exportedFamilies(): Promise<Set<string>> {
  const families = new Set<string>();
  for (const registry of [new WorkerMetrics().registry, new TrainerMetrics().registry]) {
    for (const m of await registry.getMetricsAsJSON()) families.add(m.name);
  }
  return families;
}

describe('dashboard and alert rules', () => {
  let families: Set<string>;
  beforeAll(async () => {
    families = await exportedFamilies();
  });

  it('name only metrics the worker or the trainer exports (or the declared not-yet-exported ones)', () => {
    const unknown: string[] = [];
    for (const q of [...dashboardQueries(), ...alertQueries()]) {
      for (const name of metricNames(q.expr)) {
        const family = metricFamily(name, families);
        if (name !== 'up' && !families.has(family) && !METRICS_NOT_YET_EXPORTED.has(family))
          unknown.push(`${q.name}: ${name}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('declare as not yet exported only metrics that really are not exported', () => {
    expect([...METRICS_NOT_YET_EXPORTED].filter((m) => families.has(m))).toEqual([]);
  });

  it('cover throughput, latency, lag, dead letters, model versions, batch stages and training jobs', () => {
    const used = new Set(
      dashboardQueries().flatMap((q) => metricNames(q.expr).map((n) => metricFamily(n, families))),
    );
    for (const m of [
      'streamcell_events_in_total',
      'streamcell_predictions_out_total',
      'streamcell_event_to_emit_seconds',
      'streamcell_batch_seconds',
      'streamcell_consumer_lag',
      'streamcell_dlq_total',
      'streamcell_model_version',
      'streamcell_batch_stage_seconds',
      'streamcell_trainer_jobs_total',
      'streamcell_batch_retries_total',
      'streamcell_stuck_partitions',
    ]) {
      expect(used).toContain(m);
    }
    const ids = dashboard().panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('give every alert a severity, a summary and a runbook section that exists', () => {
    const runbook = readFileSync(join(ROOT, 'docs', 'runbook.md'), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^## (\S+)$/gm)].map((m) => m[1].toLowerCase()));
    const rules = alertGroups().flatMap((g) => g.rules);
    for (const r of rules) {
      expect(['warning', 'critical']).toContain(r.labels?.severity);
      expect(r.annotations.summary).toBeTruthy();
      expect(r.annotations.runbook).toBe(`docs/runbook.md#${r.alert.toLowerCase()}`);
      expect(anchors).toContain(r.alert.toLowerCase());
    }
    // And no runbook section for an alert that does not exist.
    expect([...anchors].sort()).toEqual(rules.map((r) => r.alert.toLowerCase()).sort());
  });

  it('unit-test every alert firing (alerts.test.yml, run by promtool in npm test)', () => {
    const tests = parse(readFileSync(join(DEPLOY_DIR, 'prometheus', 'alerts.test.yml'), 'utf8')) as {
      rule_files: string[];
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    expect(tests.rule_files).toEqual(['alerts.yml']);
    const firing = new Set(
      tests.tests.flatMap((t) =>
        t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    expect([...firing].sort()).toEqual(
      alertQueries()
        .map((q) => q.name)
        .sort(),
    );
  });

  it('select the scrape jobs of the shipped Prometheus config, named after the Kubernetes Services', () => {
    const config = parse(readFileSync(join(DEPLOY_DIR, 'prometheus', 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string }[];
    };
    expect(config.rule_files).toEqual(['alerts.yml']);
    const jobs = config.scrape_configs.map((s) => s.job_name);
    const selected = alertQueries().flatMap((q) => [...q.expr.matchAll(/job="([^"]+)"/g)].map((m) => m[1]));
    expect(selected.length).toBeGreaterThan(0);
    for (const job of selected) expect(jobs).toContain(job);
    const services = parseAllDocuments(
      readFileSync(join(DEPLOY_DIR, 'k8s', 'base', 'stream-worker.yaml'), 'utf8') +
        '\n---\n' +
        readFileSync(join(DEPLOY_DIR, 'k8s', 'base', 'trainer.yaml'), 'utf8'),
    )
      .map((d) => d.toJS() as { kind: string; metadata: { name: string } })
      .filter((o) => o?.kind === 'Service')
      .map((o) => o.metadata.name);
    for (const job of jobs) expect(services).toContain(job);
  });
});
