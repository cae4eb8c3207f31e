// Sparklines of GET /api/v1/history (API-HOST.md): a mount's used bytes and exposure, an object's
// allocated bytes, over the last hour. The samples are kept here; panels ask for a series by key.
import { formatBytes } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 80;
const HEIGHT = 18;
export const HISTORY_WINDOW_S = 3600;

let history = { interval: 10, mounts: {}, sections: {} };

export function setHistory(h) {
  history = { interval: h?.interval ?? 10, mounts: h?.mounts || {}, sections: h?.sections || {} };
}

/** The RFC 3339 time an hour ago, for `?since=`. */
export function historySince(now = Date.now()) {
  return new Date(now - HISTORY_WINDOW_S * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** [[t, value]…] of a mount: `column` 1 is used bytes, 2 is exposure. */
export function mountSeries(id, column) {
  return (history.mounts[id] || []).map((s) => [s[0], s[column]]);
}

/** [[t, allocated]…] of an object by its href; empty when it is not among the largest kept. */
export function objectSeries(href) {
  return history.sections[href] || [];
}

function el(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/**
 * A small line of `points` ([[t, value]…]) scaled from 0 to `max` (default: the largest value)
 * over the last hour. The accessible name says what it shows, first and last value, the peak.
 */
export function sparkline(points, { label, max, cls = '', testid = 'sparkline' } = {}) {
  const values = points.map((p) => p[1]);
  const top = Math.max(1, max ?? 0, ...values);
  const now = points.length ? Math.max(points[points.length - 1][0], Date.now() / 1000) : Date.now() / 1000;
  const from = now - HISTORY_WINDOW_S;
  const x = (t) => Math.max(0, Math.min(WIDTH, ((t - from) / HISTORY_WINDOW_S) * WIDTH));
  const y = (v) => HEIGHT - 1 - (Math.max(0, v) / top) * (HEIGHT - 2);
  const text = points.length
    ? `${label}, last hour: ${formatBytes(values[0])} to ${formatBytes(values[values.length - 1])}, `
      + `peak ${formatBytes(Math.max(...values))}, ${points.length} samples`
    : `${label}: no samples yet`;
  const root = el('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, class: `sparkline ${cls}`.trim(),
    role: 'img', 'aria-label': text, 'data-testid': testid, 'data-points': points.length,
  });
  const title = el('title', {});
  title.textContent = text;
  root.append(title, el('line', { x1: 0, x2: WIDTH, y1: HEIGHT - 0.5, y2: HEIGHT - 0.5, class: 'spark-base' }));
  if (points.length === 1) {
    root.append(el('circle', { cx: x(points[0][0]), cy: y(values[0]), r: 1.5, class: 'spark-dot' }));
  } else if (points.length > 1) {
    const d = points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    root.append(el('polyline', { points: d, class: 'spark-line' }));
    const last = points[points.length - 1];
    root.append(el('circle', { cx: x(last[0]), cy: y(last[1]), r: 1.5, class: 'spark-dot' }));
  }
  return root;
}
