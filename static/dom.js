// A tiny element builder so panels stay declarative without a framework.

/**
 * h('div', {class: 'x', dataset: {section: 'a'}, onclick: fn}, 'text', child, [more])
 * Attributes: `class`, `dataset`, `style` (object), `on*` handlers, booleans (true -> present,
 * false/null/undefined -> absent), everything else via setAttribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces all children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** document.getElementById shorthand. */
export const $ = (id) => document.getElementById(id);

/**
 * Runs render() and puts the keyboard focus back on the equivalent element when render()
 * replaced the one that had it (live refreshes must not throw keyboard users out).
 */
export function keepingFocus(container, render) {
  const active = document.activeElement;
  let selector = null;
  if (active && active !== document.body && container.contains(active)) {
    const testid = active.dataset?.testid;
    const row = active.closest('[data-view], [data-lease], [data-pid], [data-quarantine]');
    const rowKey = row
      ? ['view', 'lease', 'pid', 'quarantine'].map((k) => (row.dataset[k] !== undefined ? `[data-${k}="${CSS.escape(row.dataset[k])}"] ` : '')).join('')
      : '';
    if (testid) selector = `${rowKey}[data-testid="${CSS.escape(testid)}"]`;
    else if (active.id) selector = `#${CSS.escape(active.id)}`;
  }
  render();
  if (selector && !container.contains(active)) {
    const again = container.querySelector(selector);
    if (again && !again.disabled) again.focus({ preventScroll: true });
  }
}
