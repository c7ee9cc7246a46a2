import uPlot from 'uplot';
import type { DeadLetterCounts, DeadLetterView } from '../../src/live/live-types';
import { api } from '../api';
import { fill, h, when } from '../dom';
import { showError, type Page } from './page';

const PALETTE = ['#dc2626', '#2563eb', '#d97706', '#7c3aed', '#059669', '#db2777', '#0891b2', '#65a30d', '#9333ea', '#ea580c', '#475569'];
const MAX_ROWS = 200;

export const deadLettersPage: Page = (root, { stream }) => {
  const chartEl = h('div', { id: 'dlq-chart' });
  const totals = h('div', { id: 'dlq-totals' });
  const rows = h('tbody', { id: 'dead-letters' });
  const status = h('div', { class: 'muted' });
  let latest: DeadLetterView[] = [];
  let plot: uPlot | null = null;
  let reasons: string[] = [];

  fill(
    root,
    h('div', { class: 'card' }, h('h2', {}, 'Dead letters'), status, totals, chartEl),
    h(
      'div',
      { class: 'card' },
      h('h3', {}, 'Latest'),
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ...['rejected', 'reason', 'detail', 'source', 'key', 'original bytes (escaped)'].map((c) => h('th', {}, c)))),
        rows,
      ),
    ),
  );

  const row = (d: DeadLetterView) =>
    h(
      'tr',
      { 'data-reason': d.reason },
      h('td', {}, when(d.at)),
      h('td', {}, h('span', { class: 'badge flag' }, d.reason)),
      h('td', {}, d.detail),
      h('td', { class: 'muted' }, `${d.source.topic} [${d.source.partition}] @${d.source.offset}`),
      h('td', {}, d.key ?? h('span', { class: 'muted' }, 'none')),
      h(
        'td',
        {},
        d.preview === null ? h('span', { class: 'muted' }, 'tombstone') : h('pre', { class: 'preview' }, d.preview),
        d.bytes !== null ? h('div', { class: 'muted' }, `${d.bytes} bytes${d.truncated ? ', truncated' : ''}`) : null,
      ),
    );

  const drawCounts = (c: DeadLetterCounts) => {
    fill(totals, Object.entries(c.totals).map(([r, n]) => h('span', { class: 'badge', 'data-total': r }, `${r}: ${n}`, ' ')));
    const seen = new Set(reasons);
    for (const b of c.buckets) for (const r of Object.keys(b.byReason)) seen.add(r);
    const now = Math.floor(Date.now() / c.bucketMs) * c.bucketMs;
    const xs: number[] = [];
    for (let t = now - 29 * c.bucketMs; t <= now; t += c.bucketMs) xs.push(t / 1000);
    const next = [...seen].sort();
    const data: uPlot.AlignedData = [xs, ...next.map((r) => xs.map((x) => c.buckets.find((b) => b.at / 1000 === x)?.byReason[r] ?? 0))];
    if (!plot || next.join() !== reasons.join()) {
      plot?.destroy();
      reasons = next;
      plot = new uPlot(
        {
          width: Math.max(400, chartEl.clientWidth || 900),
          height: 220,
          scales: { x: { time: true } },
          series: [{}, ...reasons.map((r, i) => ({ label: r, stroke: PALETTE[i % PALETTE.length], fill: `${PALETTE[i % PALETTE.length]}33`, width: 1.5, paths: uPlot.paths.bars!({ size: [0.8, 40] }) }))],
          axes: [{}, { label: 'per minute' }],
        },
        data,
        chartEl,
      );
    } else {
      plot.setData(data);
    }
  };

  const drawRows = () => fill(rows, latest.slice(0, MAX_ROWS).map(row));

  api<{ latest: DeadLetterView[]; counts: DeadLetterCounts; topic: string }>('GET', '/api/dead-letters')
    .then((r) => {
      fill(status, `from ${r.topic}; counts by reason per minute of rejection`);
      latest = r.latest;
      drawRows();
      drawCounts(r.counts);
    })
    .catch((err: unknown) => showError(status, err));
  stream.on('deadLetters', (d) => {
    const known = new Set(latest.map((x) => `${x.dlq.partition}:${x.dlq.offset}`));
    latest = [...d.latest.filter((x) => !known.has(`${x.dlq.partition}:${x.dlq.offset}`)), ...latest].slice(0, MAX_ROWS);
    drawRows();
    drawCounts(d.counts);
  });
  stream.open(stream.selected);
  return () => plot?.destroy();
};
