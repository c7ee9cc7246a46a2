import { api } from '../api';
import { fill, h, when } from '../dom';
import { showError, type Page } from './page';
import type { ActivationView } from '../../src/live/live-types';

interface VersionMeta {
  readonly version: number;
  readonly createdAt: string;
  readonly parentVersion: number | null;
  readonly task: 'forecast' | 'classify';
  readonly dataRange: { kind: string; topic?: string; labelsTopic?: string } | null;
  readonly metrics: Record<string, number>;
  readonly policy: string;
  readonly source: string;
  readonly jobId: string | null;
  readonly params: Record<string, unknown>;
}
interface ModelDetails {
  readonly name: string;
  readonly versions: VersionMeta[];
  readonly active: { version: number; policy: string; activatedAt: string; previousVersion: number | null; epoch: number } | null;
}

const POLICIES: Record<string, string> = {
  reset: 'keys restart from the initial state',
  rewarm: 'keys replay their last stored inputs through the new version',
  keep: 'keys keep their state (same architecture only)',
};
const PARAMS: Record<'forecast' | 'classify', string[]> = {
  forecast: ['hiddenUnits', 'layers', 'epochs', 'batchSize', 'learningRate', 'validationSplit', 'seed', 'window', 'horizon'],
  classify: ['hiddenUnits', 'layers', 'epochs', 'batchSize', 'learningRate', 'validationSplit', 'seed', 'embeddingDim', 'vocabSize', 'maxlen'],
};

const metricText = (m: Record<string, number>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' · ');

/** Asks before a swap: which policy, and confirms. Resolves with the policy, or null. */
function confirmActivation(model: string, v: VersionMeta, active: number | null): Promise<string | null> {
  return new Promise((resolve) => {
    const select = h('select', { id: 'swap-policy' }, ...Object.keys(POLICIES).map((p) => h('option', { value: p, selected: p === v.policy }, p)));
    const explain = h('div', { class: 'muted' }, POLICIES[v.policy] ?? '');
    select.addEventListener('change', () => fill(explain, POLICIES[select.value] ?? ''));
    const close = (r: string | null) => {
      back.remove();
      resolve(r);
    };
    const back = h(
      'div',
      { class: 'modal-back' },
      h(
        'div',
        { class: 'modal', role: 'dialog', 'aria-label': 'confirm activation' },
        h('h3', {}, active !== null && v.version < active ? `Roll ${model} back to v${v.version}?` : `Activate ${model} v${v.version}?`),
        h('p', {}, `Every worker switches from ${active === null ? 'no version' : `v${active}`} to v${v.version} between batches, without a restart.`),
        h('label', {}, 'Swap policy ', select),
        explain,
        h(
          'p',
          { class: 'row' },
          h('button', { class: 'secondary', type: 'button', onclick: () => close(null) }, 'Cancel'),
          h('button', { class: 'danger', type: 'button', id: 'confirm-activate', onclick: () => close(select.value) }, `Activate v${v.version}`),
        ),
      ),
    );
    document.body.append(back);
  });
}

export const modelsPage: Page = (root, ctx) => {
  const status = h('div', { class: 'muted' }, 'loading…');
  const list = h('div', { id: 'models' });
  fill(root, h('div', { class: 'card' }, h('h2', {}, 'Models'), status), list);
  let gone = false;

  const retrainForm = (m: ModelDetails): HTMLElement => {
    const base = m.versions.find((v) => v.version === m.active?.version) ?? m.versions[m.versions.length - 1];
    const task = base?.task ?? 'forecast';
    const inherited = base?.params ?? {};
    const inputs = new Map<string, HTMLInputElement>();
    // Every model's card has its own (hidden) form: element ids carry the model's name.
    const fieldId = (field: string): string => `retrain-${m.name}--${field}`;
    const grid = h('div', { class: 'form-grid' });
    for (const p of PARAMS[task]) {
      const v = inherited[p];
      const input = h('input', { type: 'number', step: 'any', name: p, id: fieldId(p), value: v === undefined ? '' : String(v as number), placeholder: 'default' });
      inputs.set(p, input);
      grid.append(h('label', { for: fieldId(p) }, p), input, h('span', { class: 'from' }, v === undefined ? 'default' : `from v${base.version}`));
    }
    const topic = h('input', { type: 'text', name: 'topic', id: fieldId('topic'), value: base?.dataRange?.topic ?? '' });
    const labelsTopic = h('input', { type: 'text', name: 'labelsTopic', id: fieldId('labelsTopic'), value: base?.dataRange?.labelsTopic ?? '' });
    grid.append(h('label', { for: fieldId('topic') }, 'source topic'), topic, h('span', { class: 'from' }, base?.dataRange?.topic ? `from v${base.version}` : ''));
    if (task === 'classify') grid.append(h('label', { for: fieldId('labelsTopic') }, 'labels topic'), labelsTopic, h('span', { class: 'from' }, ''));
    const activate = h('select', { name: 'activate', id: fieldId('activate') }, ...['if-better', 'always', 'never'].map((a) => h('option', { value: a }, a)));
    grid.append(h('label', { for: fieldId('activate') }, 'activate'), activate, h('span', {}));
    const error = h('div', { class: 'error' });
    const form = h(
      'form',
      { class: 'card', id: `retrain-${m.name}` },
      h('h3', {}, `Retrain ${m.name}`, base ? h('span', { class: 'muted' }, ` — parameters inherited from v${base.version}; change a field to override it`) : null),
      grid,
      h('p', {}, h('button', { class: 'primary', type: 'submit' }, 'Start retrain')),
      error,
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      fill(error);
      const body: Record<string, unknown> = {
        task,
        source: { kind: 'kafka', topic: topic.value.trim(), ...(task === 'classify' && labelsTopic.value.trim() ? { labelsTopic: labelsTopic.value.trim() } : {}) },
        activate: activate.value,
      };
      for (const [p, input] of inputs) {
        const raw = input.value.trim();
        if (raw === '' || Number(raw) === inherited[p]) continue;
        body[p] = Number(raw);
      }
      api<{ jobId: string }>('POST', `/api/trainer/models/${encodeURIComponent(m.name)}/retrain`, body)
        .then((r) => ctx.navigate(`#/jobs/${encodeURIComponent(r.jobId)}`))
        .catch((err: unknown) => showError(error, err));
    });
    return form;
  };

  const card = (m: ModelDetails, history: ActivationView[]): HTMLElement => {
    const active = m.active?.version ?? null;
    const error = h('div', { class: 'error' });
    const versions = [...m.versions].reverse().map((v) =>
      h(
        'tr',
        { 'data-version': v.version },
        h('td', {}, `v${v.version}`, v.version === active ? h('span', { class: 'badge active' }, ' active') : null),
        h('td', {}, when(v.createdAt)),
        h('td', {}, v.source, v.parentVersion ? ` from v${v.parentVersion}` : ''),
        h('td', {}, metricText(v.metrics)),
        h('td', { class: 'muted' }, Object.entries(v.params).map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : String(x as string | number)}`).join(' ')),
        h('td', {}, v.jobId ? h('a', { href: `#/jobs/${encodeURIComponent(v.jobId)}` }, 'job') : ''),
        h(
          'td',
          {},
          v.version === active
            ? ''
            : h(
                'button',
                {
                  class: 'secondary',
                  type: 'button',
                  'data-activate': v.version,
                  onclick: () => {
                    void confirmActivation(m.name, v, active).then((policy) => {
                      if (!policy) return;
                      api('POST', `/api/trainer/models/${encodeURIComponent(m.name)}/versions/${v.version}/activate`, { policy })
                        .then(load)
                        .catch((err: unknown) => showError(error, err));
                    });
                  },
                },
                active !== null && v.version < active ? 'Roll back…' : 'Activate…',
              ),
        ),
      ),
    );
    const form = retrainForm(m);
    form.hidden = true;
    return h(
      'div',
      { class: 'card', 'data-model': m.name },
      h(
        'h3',
        {},
        m.name,
        ' ',
        h('span', { class: 'badge' }, m.versions[0]?.task ?? ''),
        ' ',
        m.active ? h('span', { class: 'badge active', id: `active-${m.name}` }, `active v${m.active.version} (${m.active.policy}, ${when(m.active.activatedAt)})`) : h('span', { class: 'muted' }, 'no active version'),
        ' ',
        h('button', { class: 'secondary', type: 'button', id: `retrain-open-${m.name}`, onclick: () => (form.hidden = !form.hidden) }, 'Retrain…'),
      ),
      error,
      h('table', {}, h('thead', {}, h('tr', {}, ...['version', 'created', 'source', 'holdout metrics', 'parameters', '', ''].map((c) => h('th', {}, c)))), h('tbody', {}, versions)),
      h('h3', {}, 'Activation history'),
      history.length === 0
        ? h('div', { class: 'muted' }, 'none seen on the models topic')
        : h(
            'table',
            { class: 'history' },
            h('thead', {}, h('tr', {}, ...['activated', 'version', 'previous', 'policy', 'epoch'].map((c) => h('th', {}, c)))),
            h(
              'tbody',
              { id: `history-${m.name}` },
              [...history].reverse().map((a) => h('tr', {}, h('td', {}, when(a.activatedAt)), h('td', {}, `v${a.version}`), h('td', {}, a.previousVersion ? `v${a.previousVersion}` : '—'), h('td', {}, a.policy), h('td', {}, a.epoch ?? ''))),
            ),
          ),
      form,
    );
  };

  async function load(): Promise<void> {
    const { models } = await api<{ models: { name: string }[] }>('GET', '/api/trainer/models');
    const [details, { activations }] = await Promise.all([
      Promise.all(models.map((m) => api<ModelDetails>('GET', `/api/trainer/models/${encodeURIComponent(m.name)}`))),
      api<{ activations: ActivationView[] }>('GET', '/api/activations'),
    ]);
    if (gone) return;
    fill(status, `${models.length} model(s)`);
    status.classList.remove('error');
    fill(list, details.sort((a, b) => (a.name < b.name ? -1 : 1)).map((m) => card(m, activations.filter((a) => a.model === m.name))));
  }
  load().catch((err: unknown) => showError(status, err));
  return () => {
    gone = true;
  };
};
