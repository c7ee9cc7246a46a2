import uPlot from 'uplot';
import { api, onEvent } from '../api';
import { fill, h, num, when } from '../dom';
import { showError, type Page } from './page';

interface Epoch {
  readonly epoch: number;
  readonly epochs: number;
  readonly loss: number;
  readonly valLoss: number | null;
  readonly examplesPerSecond: number;
  readonly route: string;
}
interface Job {
  readonly id: string;
  readonly model: string;
  readonly task: string;
  readonly status: string;
  readonly phase: string;
  readonly backend: string | null;
  readonly route: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly params: Record<string, unknown>;
  readonly paramsFrom: number | null;
  readonly epochs: Epoch[];
  readonly progress: { epoch: number; epochs: number; fraction: number };
  readonly result: { version: number; metrics: Record<string, number>; activated: boolean; reason: string; trainExamples: number } | null;
  readonly error: string | null;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

function jobDetail(root: HTMLElement, id: string): () => void {
  const head = h('h2', {}, `Job ${id}`);
  const facts = h('div', { class: 'kv', id: 'job-facts' });
  const chartEl = h('div', { id: 'loss-chart', 'data-epochs': 0, 'data-status': '' });
  const error = h('div', { class: 'error' });
  const cancel = h('button', { class: 'danger', type: 'button', id: 'job-cancel', hidden: true }, 'Cancel job');
  fill(root, h('div', { class: 'card' }, head, facts, cancel, error), h('div', { class: 'card' }, h('h3', {}, 'Loss per epoch'), chartEl));
  let plot: uPlot | null = null;
  let src: EventSource | null = null;

  const render = (j: Job) => {
    const last = j.epochs[j.epochs.length - 1];
    chartEl.setAttribute('data-epochs', String(j.epochs.length));
    chartEl.setAttribute('data-status', j.status);
    const fact = (k: string, v: Node | string) => [h('span', { class: 'muted' }, k), h('span', {}, v)];
    fill(
      facts,
      fact('model', j.model),
      fact('status', h('span', { id: 'job-status', class: j.status === 'failed' ? 'bad' : j.status === 'succeeded' ? 'ok' : '' }, `${j.status} (${j.phase})`)),
      fact('progress', `epoch ${j.progress.epoch} of ${j.progress.epochs}`),
      fact('route', j.route ?? '—'),
      fact('backend', j.backend ?? '—'),
      fact('examples/s', last ? num(last.examplesPerSecond, 0) : '—'),
      fact('parameters', `${Object.entries(j.params).map(([k, v]) => `${k}=${String(v as string)}`).join(' ')}${j.paramsFrom ? ` (inherited from v${j.paramsFrom})` : ''}`),
      fact('started', when(j.createdAt)),
      ...(j.result ? fact('result', `v${j.result.version} · ${Object.entries(j.result.metrics).map(([k, v]) => `${k} ${num(v, 4)}`).join(' · ')} · ${j.result.activated ? 'activated' : 'not activated'}: ${j.result.reason}`) : []),
      ...(j.error ? fact('error', h('span', { class: 'bad' }, j.error)) : []),
    );
    cancel.hidden = TERMINAL.has(j.status);
    const data: uPlot.AlignedData = [j.epochs.map((e) => e.epoch), j.epochs.map((e) => e.loss), j.epochs.map((e) => e.valLoss)];
    if (!plot) {
      plot = new uPlot(
        {
          width: Math.max(400, chartEl.clientWidth || 900),
          height: 300,
          scales: { x: { time: false } },
          series: [{ label: 'epoch' }, { label: 'loss', stroke: '#2563eb', width: 2, points: { show: true } }, { label: 'val loss', stroke: '#d97706', width: 2, points: { show: true } }],
          axes: [{ label: 'epoch' }, { label: 'loss' }],
        },
        data,
        chartEl,
      );
    } else {
      plot.setData(data);
    }
    if (TERMINAL.has(j.status)) src?.close();
  };

  cancel.addEventListener('click', () => {
    api<Job>('POST', `/api/trainer/jobs/${encodeURIComponent(id)}/cancel`, {})
      .then(render)
      .catch((err: unknown) => showError(error, err));
  });
  src = new EventSource(`/api/trainer/jobs/${encodeURIComponent(id)}/events`);
  onEvent<Job>(src, 'job', render);
  return () => {
    src?.close();
    plot?.destroy();
  };
}

export const jobsPage: Page = (root, { arg }) => {
  if (arg) return jobDetail(root, arg);
  const status = h('div', { class: 'muted' }, 'loading…');
  const rows = h('tbody', { id: 'jobs' });
  fill(
    root,
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Training jobs'),
      status,
      h('table', {}, h('thead', {}, h('tr', {}, ...['job', 'model', 'status', 'epochs', 'started'].map((c) => h('th', {}, c)))), rows),
    ),
  );
  (async () => {
    const ids = new Map<string, string>();
    for (const j of (await api<{ jobs: { id: string; model: string }[] }>('GET', '/api/jobs')).jobs) ids.set(j.id, j.model);
    const { models } = await api<{ models: { name: string }[] }>('GET', '/api/trainer/models');
    for (const m of models) {
      const d = await api<{ versions: { jobId: string | null }[] }>('GET', `/api/trainer/models/${encodeURIComponent(m.name)}`);
      for (const v of d.versions) if (v.jobId) ids.set(v.jobId, m.name);
    }
    const jobs = await Promise.all([...ids.keys()].slice(0, 50).map((id) => api<Job>('GET', `/api/trainer/jobs/${encodeURIComponent(id)}`).catch(() => null)));
    const found = jobs.filter((j): j is Job => j !== null).sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
    fill(status, found.length ? 'jobs started from this console and the jobs that trained each version' : 'no jobs yet: start one from a model on the Models page');
    fill(
      rows,
      found.map((j) =>
        h('tr', {}, h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(j.id)}` }, j.id)), h('td', {}, j.model), h('td', {}, j.status), h('td', {}, `${j.epochs.length}/${j.progress.epochs}`), h('td', {}, when(j.createdAt))),
      ),
    );
  })().catch((err: unknown) => showError(status, err));
};
