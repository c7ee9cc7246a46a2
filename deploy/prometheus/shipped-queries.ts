/**
 * The PromQL the project ships, as its checks read it: every target of every panel of the Grafana
 * dashboard and every alert rule. Used by the unit check (shipped-queries.spec.ts: names against
 * the apps' metric registries) and the e2e check (test/prometheus.e2e-spec.ts: queries against a
 * real Prometheus scraping a real worker and trainer).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** deploy/ of the repository. */
export const DEPLOY_DIR = join(__dirname, '..');

/**
 * Metric families the dashboard and the alerts use that the worker does not export yet: queries
 * on them must parse but may return no series. The unit check fails as soon as the worker exports
 * one of them, so this set only ever shrinks (it is empty: the worker exports every family).
 */
export const METRICS_NOT_YET_EXPORTED: ReadonlySet<string> = new Set<string>([]);

/** One query with what it belongs to (panel title and legend, or alert name). */
export interface ShippedQuery {
  readonly name: string;
  readonly expr: string;
}

/** Grafana's interval variables the dashboard uses; nothing else may start with `$` in a query. */
const GRAFANA_INTERVALS = ['$__rate_interval', '$__interval', '$__range'];

interface DashboardPanel {
  readonly title: string;
  readonly type: string;
  readonly targets?: readonly { expr: string; legendFormat?: string; refId: string }[];
}

/** The dashboard JSON (deploy/grafana/dashboards/streamcell.json). */
export function dashboard(): { uid: string; panels: readonly DashboardPanel[] } {
  return JSON.parse(readFileSync(join(DEPLOY_DIR, 'grafana', 'dashboards', 'streamcell.json'), 'utf8')) as {
    uid: string;
    panels: DashboardPanel[];
  };
}

/**
 * Every panel target as plain PromQL: Grafana's interval variables become `interval` (what
 * Grafana substitutes at a given zoom); any other variable is an error.
 */
export function dashboardQueries(interval = '1m'): ShippedQuery[] {
  return dashboard().panels.flatMap((p) =>
    (p.targets ?? []).map((t) => {
      let expr = t.expr;
      for (const v of GRAFANA_INTERVALS) expr = expr.split(v).join(interval);
      if (expr.includes('$')) throw new Error(`panel "${p.title}" uses an unknown variable: ${t.expr}`);
      return { name: `${p.title} [${t.legendFormat ?? t.refId}]`, expr };
    }),
  );
}

/** One rule of deploy/prometheus/alerts.yml. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/** The alert rules, by group. */
export function alertGroups(): { name: string; rules: AlertRule[] }[] {
  const doc = parse(readFileSync(join(DEPLOY_DIR, 'prometheus', 'alerts.yml'), 'utf8')) as {
    groups: { name: string; rules: AlertRule[] }[];
  };
  return doc.groups;
}

/** Every alert expression. */
export function alertQueries(): ShippedQuery[] {
  return alertGroups().flatMap((g) => g.rules.map((r) => ({ name: r.alert, expr: r.expr })));
}

/** Metric names a query selects (the project's `streamcell_*` series and `up`). */
export function metricNames(expr: string): string[] {
  const names = new Set(expr.match(/\bstreamcell_[a-z0-9_]+/g) ?? []);
  if (/\bup\s*\{/.test(expr)) names.add('up');
  return [...names];
}

/** The family a series name belongs to: a histogram's `_bucket`, `_sum` and `_count` series are its family's. */
export function metricFamily(name: string, families: ReadonlySet<string>): string {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && (families.has(base) || METRICS_NOT_YET_EXPORTED.has(base)) ? base : name;
}

/** True when a query uses a family of {@link METRICS_NOT_YET_EXPORTED}. */
export function usesMetricsNotYetExported(expr: string): boolean {
  return metricNames(expr).some((n) => METRICS_NOT_YET_EXPORTED.has(n.replace(/_(bucket|sum|count)$/, '')));
}
