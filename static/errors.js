// The page-level error banner: problem+json title and detail, dismissible.
import { h, replace, $ } from './dom.js';

/** Extra problem members worth showing (pids, limit, commit, holders…). */
export function problemExtras(problem) {
  const skip = new Set(['type', 'title', 'status', 'detail', 'instance']);
  return Object.entries(problem || {}).filter(([k]) => !skip.has(k))
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
}

/** A block showing an error's title, detail and extra members. */
export function problemBlock(err, testid) {
  const extras = problemExtras(err.problem);
  return h('div', { class: 'problem', dataset: { testid, status: String(err.status ?? '') } },
    h('strong', { class: 'problem-title' }, err.title || 'Error'),
    err.status ? h('span', { class: 'muted' }, ` (${err.status})`) : null,
    err.detail ? h('div', { class: 'problem-detail' }, err.detail) : null,
    extras.length ? h('div', { class: 'problem-extra muted' }, extras.join(' · ')) : null);
}

export function showError(err, context) {
  const box = $('errors');
  const item = h('div', { class: 'error-item' },
    context ? h('span', { class: 'muted' }, `${context}: `) : null,
    problemBlock(err, 'error'),
    h('button', {
      type: 'button', class: 'ghost small', 'aria-label': 'Dismiss error',
      onclick: () => { item.remove(); box.hidden = !box.children.length; },
    }, '✕'));
  // Keep the last three.
  while (box.children.length >= 3) box.firstElementChild.remove();
  box.append(item);
  box.hidden = false;
}

export function clearErrors() {
  replace($('errors'));
  $('errors').hidden = true;
}
