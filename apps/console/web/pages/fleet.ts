import { api } from '../api';
import { fill, h, num, when } from '../dom';
import type { FleetView } from '../../src/live/live-types';
import { showError, type Page } from './page';

const ms = (s: number | null) => (s === null ? '—' : `${num(s * 1000, 1)} ms`);

export const fleetPage: Page = (root) => {
  const status = h('div', { class: 'muted' });
  const workers = h('tbody', { id: 'workers' });
  const lag = h('tbody', { id: 'lag' });
  const groupTitle = h('h3', {}, 'Consumer lag per partition');
  fill(
    root,
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Fleet'),
      status,
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ...['worker', 'ready', 'events/s', 'predictions/s', 'dead letters/s', 'batch p50', 'batch p99', 'models', 'scraped'].map((c) => h('th', {}, c)))),
        workers,
      ),
    ),
    h('div', { class: 'card' }, groupTitle, h('table', {}, h('thead', {}, h('tr', {}, ...['topic', 'partition', 'committed', 'end', 'lag'].map((c) => h('th', {}, c)))), lag)),
  );
  const load = () =>
    api<FleetView>('GET', '/api/fleet')
      .then((f) => {
        fill(status, f.workers.length ? `scraped every ${f.intervalMs / 1000} s from each worker's /health/ready and /metrics` : 'no worker URLs configured (WORKER_METRICS_URLS)');
        fill(
          workers,
          f.workers.map((w) =>
            h(
              'tr',
              { 'data-ready': String(w.ready) },
              h('td', {}, w.url),
              h('td', { title: w.readyDetail }, w.reachable ? (w.ready ? h('span', { class: 'ok' }, 'ready') : h('span', { class: 'bad' }, 'not ready')) : h('span', { class: 'bad' }, 'unreachable')),
              h('td', { class: 'num' }, num(w.eventsPerSec, 1)),
              h('td', { class: 'num' }, num(w.predictionsPerSec, 1)),
              h('td', { class: 'num' }, num(w.deadLettersPerSec, 2)),
              h('td', { class: 'num' }, ms(w.batchP50)),
              h('td', { class: 'num' }, ms(w.batchP99)),
              h('td', {}, Object.entries(w.modelVersions).map(([m, v]) => `${m} v${v}`).join(', ')),
              h('td', { class: 'muted' }, when(w.scrapedAt)),
            ),
          ),
        );
        fill(groupTitle, `Consumer lag per partition${f.group ? ` (group ${f.group.groupId})` : ''}`, f.group?.error ? h('span', { class: 'bad' }, ` ${f.group.error}`) : null);
        fill(
          lag,
          (f.group?.partitions ?? []).map((p) => h('tr', {}, h('td', {}, p.topic), h('td', { class: 'num' }, p.partition), h('td', { class: 'num' }, p.committed ?? '—'), h('td', { class: 'num' }, p.end), h('td', { class: 'num' }, p.lag))),
        );
      })
      .catch((err: unknown) => showError(status, err));
  void load();
  const timer = window.setInterval(() => void load(), 3000);
  return () => window.clearInterval(timer);
};
