import { api, ApiError, whenLoggedOut } from './api';
import { fill, h } from './dom';
import { deadLettersPage } from './pages/dead-letters';
import { fleetPage } from './pages/fleet';
import { jobsPage } from './pages/jobs';
import { livePage } from './pages/live';
import { modelsPage } from './pages/models';
import type { Page } from './pages/page';
import { LiveStream } from './stream';

const root = document.getElementById('app')!;
const conn = document.getElementById('conn')!;
const stream = new LiveStream(
  (up) => conn.classList.toggle('up', up),
  () => {
    // The server refused the stream: log in again if the session is gone, else retry shortly.
    api<{ loggedIn: boolean }>('GET', '/api/session')
      .then((r) => (r.loggedIn ? window.setTimeout(() => stream.open(stream.selected, true), 2000) : showLogin('The session ended; log in again.')))
      .catch(() => window.setTimeout(() => stream.open(stream.selected, true), 5000));
  },
);
const pages: Record<string, Page> = { live: livePage, 'dead-letters': deadLettersPage, models: modelsPage, jobs: jobsPage, fleet: fleetPage };
let leave: (() => void) | void = undefined;

function route(): void {
  if (typeof leave === 'function') leave();
  leave = undefined;
  stream.clearHandlers();
  const [name = 'live', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const page = pages[name] ?? livePage;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) a.classList.toggle('active', a.getAttribute('href') === `#/${name}`);
  root.replaceChildren();
  leave = page(root, { stream, arg: rest.map(decodeURIComponent).join('/') || null, navigate: (hash) => (location.hash = hash) });
}

function showLogin(message = ''): void {
  if (typeof leave === 'function') leave();
  leave = undefined;
  stream.clearHandlers();
  stream.close();
  document.body.classList.add('anon');
  const token = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', placeholder: 'ADMIN_TOKEN', required: true });
  const error = h('div', { class: 'error', id: 'login-error' }, message);
  const form = h(
    'form',
    { class: 'card login', id: 'login' },
    h('h2', {}, 'Log in'),
    h('p', { class: 'muted' }, "The trainer's admin token (the same bearer token as the admin API). It is checked by the trainer and kept by the console server for this session only."),
    token,
    h('button', { class: 'primary', type: 'submit' }, 'Log in'),
    error,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    fill(error);
    api('POST', '/api/session', { token: token.value })
      .then(() => {
        token.value = '';
        loggedIn();
      })
      .catch((err: unknown) => fill(error, err instanceof ApiError ? err.message : String(err)));
  });
  fill(root, form);
  token.focus();
}

function loggedIn(): void {
  document.body.classList.remove('anon');
  if (!location.hash) location.hash = '#/live';
  route();
}

whenLoggedOut(() => showLogin('The session ended; log in again.'));
window.addEventListener('hashchange', () => {
  if (!document.body.classList.contains('anon')) route();
});
document.getElementById('logout')!.addEventListener('click', () => {
  void api('DELETE', '/api/session').finally(() => showLogin());
});
api<{ loggedIn: boolean }>('GET', '/api/session').then(
  (r) => (r.loggedIn ? loggedIn() : showLogin()),
  (err: unknown) => showLogin(String(err)),
);
