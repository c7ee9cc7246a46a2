import uPlot from 'uplot';
import type { ActivationView, KeySummary, SeriesPoint, TextMessage, VersionMarker } from '../../src/live/live-types';
import { api } from '../api';
import { clock, fill, h, num } from '../dom';
import { showError, type Page } from './page';

const MAX_POINTS = 600;
const MAX_MESSAGES = 50;
/** Rows of the latest text messages across streams. */
const LATEST_SHOWN = 15;

/** Typical event-time step of the series (median gap of the last readings), for drawing the horizon. */
function stepMs(points: readonly SeriesPoint[]): number {
  const gaps: number[] = [];
  for (let i = Math.max(1, points.length - 30); i < points.length; i++) gaps.push(points[i].ts - points[i - 1].ts);
  const pos = gaps.filter((g) => g > 0).sort((a, b) => a - b);
  return pos.length ? pos[Math.floor(pos.length / 2)] : 1000;
}

/** Draws the version changes as dashed vertical lines labelled with the new version. */
function markerPlugin(markers: () => readonly VersionMarker[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx;
        const { top, height } = u.bbox;
        ctx.save();
        ctx.strokeStyle = '#7c3aed';
        ctx.fillStyle = '#7c3aed';
        ctx.setLineDash([5, 4]);
        ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
        for (const m of markers()) {
          if (m.from === null) continue;
          const x = u.valToPos(m.ts / 1000, 'x', true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
          ctx.fillText(`v${m.to}`, x + 4 * devicePixelRatio, top + 12 * devicePixelRatio);
        }
        ctx.restore();
      },
    },
  };
}

export const livePage: Page = (root, { stream }) => {
  let points: SeriesPoint[] = [];
  let markers: VersionMarker[] = [];
  let threshold = 3;
  let kind: 'sensor' | 'text' = 'sensor';
  let query = '';
  let searchTimer: number | undefined;
  const selected = stream.selected;

  const search = h('input', { type: 'text', id: 'key-search', placeholder: 'search keys', autocomplete: 'off' });
  const keyList = h('ul', { class: 'keys', id: 'keys' });
  const keyCount = h('div', { class: 'muted', id: 'key-count' });
  const title = h('h2', { id: 'live-title' }, selected ?? 'Pick a sensor or stream');
  const info = h('div', { class: 'muted', id: 'live-info' });
  const chartEl = h('div', { id: 'chart', 'data-points': 0, 'data-markers': 0 });
  const scoreEl = h('div', { id: 'scores' });
  const markerList = h('div', { class: 'markers', id: 'markers' });
  const keyMessages = h('tbody', { id: 'key-messages' });
  const latestMessages = h('tbody', { id: 'messages' });
  const activations = h('tbody', { id: 'activations' });
  const activationRows: ActivationView[] = [];

  const messageRow = (m: TextMessage) =>
    h(
      'tr',
      {},
      h('td', {}, clock(m.ts)),
      h('td', {}, m.key),
      h('td', {}, m.text ?? ''),
      h('td', {}, m.label ? h('span', { class: 'badge' }, m.label) : '…'),
      h('td', {}, m.scores ? Object.entries(m.scores).map(([l, s]) => `${l} ${num(s, 2)}`).join('  ') : ''),
      h('td', {}, m.modelVersion ? `v${m.modelVersion}` : ''),
    );
  const messageTable = (body: HTMLElement) =>
    h('table', {}, h('thead', {}, h('tr', {}, ...['time', 'key', 'text', 'label', 'scores', 'model'].map((c) => h('th', {}, c)))), body);

  fill(
    root,
    h(
      'div',
      { class: 'row' },
      h('div', { class: 'side card' }, search, keyCount, keyList),
      h(
        'div',
        { class: 'grow' },
        h('div', { class: 'card' }, title, info, chartEl, scoreEl, markerList),
        h('div', { class: 'card', id: 'key-messages-card', hidden: true }, h('h3', {}, 'Messages of this stream'), messageTable(keyMessages)),
        h('div', { class: 'card' }, h('h3', {}, 'Latest text messages'), messageTable(latestMessages)),
        h(
          'div',
          { class: 'card' },
          h('h3', {}, 'Model activations'),
          h('table', {}, h('thead', {}, h('tr', {}, ...['activated', 'model', 'version', 'previous', 'policy'].map((c) => h('th', {}, c)))), activations),
        ),
      ),
    ),
  );

  const renderKeys = (keys: readonly KeySummary[], total: number) => {
    fill(keyCount, query ? `${keys.length} matching of ${total} keys` : `busiest of ${total} keys`);
    fill(
      keyList,
      keys.map((k) =>
        h(
          'li',
          { 'data-key': k.key, class: k.key === stream.selected ? 'sel' : '', title: k.key, onclick: () => select(k.key) },
          h('span', { class: 'k' }, k.key),
          h('span', { class: 'muted' }, k.kind === 'text' ? 'text ' : '', `${num(k.rate, 1)}/s`, k.lastScore !== null && Math.abs(k.lastScore) >= threshold ? h('span', { class: 'badge flag' }, '!') : null),
        ),
      ),
    );
  };

  let plot: uPlot | null = null;
  let scorePlot: uPlot | null = null;
  const width = () => Math.max(300, chartEl.clientWidth || root.clientWidth - 340);

  const chartData = (): { main: uPlot.AlignedData; scores: uPlot.AlignedData } => {
    const xs: number[] = [];
    const actual: (number | null)[] = [];
    const predicted: (number | null)[] = [];
    const horizon: (number | null)[] = [];
    const flagged: (number | null)[] = [];
    const score: (number | null)[] = [];
    const flaggedScore: (number | null)[] = [];
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      xs.push(p.ts / 1000);
      actual.push(p.value);
      const prev = i > 0 ? points[i - 1].forecast : null;
      predicted.push(prev && prev.length > 0 && Number.isFinite(prev[0]) ? prev[0] : null);
      horizon.push(null);
      flagged.push(p.flagged ? p.value : null);
      score.push(p.anomalyScore);
      flaggedScore.push(p.flagged ? p.anomalyScore : null);
    }
    const last = points[points.length - 1];
    if (last?.forecast && last.forecast.length > 0) {
      const step = stepMs(points);
      horizon[horizon.length - 1] = last.value;
      last.forecast.forEach((v, k) => {
        xs.push((last.ts + (k + 1) * step) / 1000);
        actual.push(null);
        predicted.push(null);
        horizon.push(Number.isFinite(v) ? v : null);
        flagged.push(null);
        score.push(null);
        flaggedScore.push(null);
      });
    }
    const thr = xs.map(() => threshold);
    const negThr = xs.map(() => -threshold);
    return { main: [xs, actual, predicted, horizon, flagged], scores: [xs, score, flaggedScore, thr, negThr] };
  };

  const draw = () => {
    const readings = points.filter((p) => p.value !== null).length;
    chartEl.setAttribute('data-points', String(readings));
    chartEl.setAttribute('data-markers', String(markers.filter((m) => m.from !== null).length));
    fill(
      markerList,
      markers.length ? 'Model versions on the time axis: ' : '',
      markers.map((m) => h('span', { class: 'badge', 'data-marker': m.to }, m.from === null ? `v${m.to} from ${clock(m.ts)}` : `v${m.from} → v${m.to} at ${clock(m.ts)}`)),
    );
    const last = points[points.length - 1];
    // The newest reading's forecast may still be on its way: show the latest one that arrived.
    let scored: SeriesPoint | undefined;
    for (let i = points.length - 1; i >= 0 && !scored; i--) if (points[i].modelVersion !== null) scored = points[i];
    fill(
      info,
      last
        ? `${readings} readings · last ${clock(last.ts)} value ${num(last.value, 3)} · score ${num(scored?.anomalyScore, 2)} · model v${scored?.modelVersion ?? '?'} · flagged ${points.filter((p) => p.flagged).length}`
        : 'waiting for readings…',
    );
    const { main, scores } = chartData();
    if (!plot) {
      const sync = uPlot.sync('live');
      plot = new uPlot(
        {
          width: width(),
          height: 300,
          cursor: { sync: { key: sync.key } },
          scales: { x: { time: true } },
          series: [
            {},
            { label: 'reading', stroke: '#2563eb', width: 2 },
            { label: 'forecast t+1', stroke: '#f59e0b', width: 1.5, dash: [4, 3] },
            { label: 'horizon', stroke: '#16a34a', width: 2, dash: [6, 3], points: { show: true, size: 5 } },
            { label: 'anomaly', stroke: '#dc2626', width: 0, points: { show: true, size: 9, fill: '#dc2626' }, paths: () => null },
          ],
          axes: [{}, { label: 'value' }],
          plugins: [markerPlugin(() => markers)],
        },
        main,
        chartEl,
      );
      scorePlot = new uPlot(
        {
          width: width(),
          height: 140,
          cursor: { sync: { key: sync.key } },
          scales: { x: { time: true } },
          series: [
            {},
            { label: 'anomaly score', stroke: '#6b7280', width: 1, fill: 'rgba(107,114,128,.12)' },
            { label: 'flagged', stroke: '#dc2626', width: 0, points: { show: true, size: 8, fill: '#dc2626' }, paths: () => null },
            { label: `+threshold`, stroke: '#fca5a5', width: 1, dash: [3, 3], points: { show: false } },
            { label: `−threshold`, stroke: '#fca5a5', width: 1, dash: [3, 3], points: { show: false } },
          ],
          axes: [{}, { label: 'score' }],
          plugins: [markerPlugin(() => markers)],
        },
        scores,
        scoreEl,
      );
    } else {
      plot.setData(main);
      scorePlot!.setData(scores);
    }
  };

  const drawMessages = (list: readonly TextMessage[]) => fill(keyMessages, [...list].reverse().map(messageRow));
  let keyMsgs: TextMessage[] = [];

  const select = (key: string) => {
    points = [];
    markers = [];
    keyMsgs = [];
    fill(title, key);
    for (const li of keyList.querySelectorAll('li')) li.classList.toggle('sel', li.getAttribute('data-key') === key);
    stream.open(key);
  };

  const merge = (incoming: readonly SeriesPoint[]) => {
    const at = new Map(points.map((p, i) => [`${p.partition}:${p.offset}`, i]));
    for (const p of incoming) {
      const i = at.get(`${p.partition}:${p.offset}`);
      if (i !== undefined) points[i] = p;
      else points.push(p);
    }
    points.sort((a, b) => a.ts - b.ts);
    if (points.length > MAX_POINTS) points = points.slice(-MAX_POINTS);
  };

  stream.on('hello', (d) => (threshold = d.anomalyThreshold));
  stream.on('series', (d) => {
    if (d.key !== stream.selected) return;
    kind = d.kind;
    points = [...d.points];
    markers = [...d.markers];
    keyMsgs = [...d.messages].slice(-MAX_MESSAGES);
    document.getElementById('key-messages-card')!.hidden = kind !== 'text';
    drawMessages(keyMsgs);
    draw();
  });
  stream.on('points', (d) => {
    if (d.key !== stream.selected) return;
    merge(d.points);
    markers.push(...d.markers);
    draw();
  });
  // A message is sent again when its classification arrives: rows are keyed by source coordinates.
  const latest = new Map<string, TextMessage>();
  const where = (m: TextMessage) => `${m.key}\u0000${m.partition}:${m.offset}`;
  stream.on('messages', (d) => {
    for (const m of d.messages) {
      latest.delete(where(m));
      latest.set(where(m), m);
      if (m.key === stream.selected) {
        keyMsgs = [...keyMsgs.filter((x) => !(x.partition === m.partition && x.offset === m.offset)), m].slice(-MAX_MESSAGES);
        drawMessages(keyMsgs);
      }
    }
    const rows = [...latest.values()].sort((a, b) => a.ts - b.ts).slice(-LATEST_SHOWN);
    latest.clear();
    for (const m of rows) latest.set(where(m), m);
    fill(latestMessages, rows.reverse().map(messageRow));
  });
  stream.on('top', (d) => {
    if (!query) renderKeys(d.keys, d.totalKeys);
  });
  const drawActivations = () =>
    fill(
      activations,
      activationRows
        .slice(-20)
        .reverse()
        .map((x) => h('tr', {}, h('td', {}, clock(x.activatedAt)), h('td', {}, x.model), h('td', {}, `v${x.version}`), h('td', {}, x.previousVersion ? `v${x.previousVersion}` : '—'), h('td', {}, x.policy))),
    );
  stream.on('activation', (a) => {
    activationRows.push(a);
    drawActivations();
  });

  search.addEventListener('input', () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => {
      query = search.value.trim();
      api<{ keys: KeySummary[]; totalKeys: number }>('GET', `/api/keys${query ? `?q=${encodeURIComponent(query)}` : ''}`)
        .then((r) => renderKeys(r.keys, r.totalKeys))
        .catch((err: unknown) => showError(keyCount, err));
    }, 150);
  });

  const onResize = () => {
    plot?.setSize({ width: width(), height: 300 });
    scorePlot?.setSize({ width: width(), height: 140 });
  };
  window.addEventListener('resize', onResize);
  stream.open(selected, true);
  if (selected) fill(title, selected);
  api<{ activations: ActivationView[] }>('GET', '/api/activations')
    .then((r) => {
      for (const a of r.activations) if (!activationRows.some((x) => x.model === a.model && x.activatedAt === a.activatedAt)) activationRows.push(a);
      activationRows.sort((a, b) => (a.activatedAt < b.activatedAt ? -1 : 1));
      drawActivations();
    })
    .catch((err: unknown) => showError(info, err));
  return () => {
    window.removeEventListener('resize', onResize);
    plot?.destroy();
    scorePlot?.destroy();
  };
};
