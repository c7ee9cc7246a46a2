import type { LiveStream } from '../stream';

/** What a page gets: the live stream, the route's argument (e.g. a job id), navigation. */
export interface PageContext {
  readonly stream: LiveStream;
  readonly arg: string | null;
  navigate(hash: string): void;
}

/** Renders into `root`; returns what to do when the page is left. */
export type Page = (root: HTMLElement, ctx: PageContext) => (() => void) | void;

/** Shows an error in `el` (a failed call must never become a silent blank). */
export function showError(el: Element, err: unknown): void {
  el.replaceChildren(document.createTextNode(err instanceof Error ? err.message : String(err)));
  el.classList.add('error');
}
