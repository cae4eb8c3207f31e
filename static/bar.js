// A small horizontal bar (part of a whole) with its text, for table cells.
import { h } from './dom.js';
import { percent } from './format.js';

/** A small bar: part of whole, with the text next to it. */
export function bar(part, whole, label, title, cls = '') {
  const pct = percent(part, whole);
  return h('div', { class: `bar-cell ${cls}`, title },
    h('span', { class: 'bar', role: 'img', 'aria-label': `${Math.round(pct)} percent` },
      h('span', { class: 'bar-fill', style: { width: `${pct}%` } })),
    h('span', { class: 'bar-text' }, label));
}
