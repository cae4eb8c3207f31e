// Host overview: /dev/shm capacity gauge, section counts, low-space warning.
import { h, replace, $ } from './dom.js';
import { formatBytes, formatExactBytes, formatDuration, percent } from './format.js';

/** Free space below this share of the filesystem, or below LOW_BYTES, raises the warning. */
const LOW_SHARE = 0.1;
const LOW_BYTES = 64 * 1024 * 1024;

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** A ring gauge: used share of the filesystem. */
export function gauge(used, size, low) {
  const pct = percent(used, size);
  const r = 42;
  const c = 2 * Math.PI * r;
  const root = svg('svg', { viewBox: '0 0 100 100', class: 'gauge', 'aria-hidden': 'true' });
  root.append(svg('circle', { cx: 50, cy: 50, r, class: 'gauge-track' }));
  const arc = svg('circle', {
    cx: 50, cy: 50, r,
    class: low ? 'gauge-used low' : 'gauge-used',
    'stroke-dasharray': `${(pct / 100) * c} ${c}`,
    transform: 'rotate(-90 50 50)',
  });
  root.append(arc);
  const t = svg('text', { x: 50, y: 54, 'text-anchor': 'middle', class: 'gauge-text' });
  t.textContent = `${pct < 1 && used > 0 ? '<1' : Math.round(pct)}%`;
  root.append(t);
  return root;
}

function stat(label, value, opts = {}) {
  return h('div', { class: `stat ${opts.cls || ''}`, dataset: { testid: `count-${opts.key}` }, title: opts.title },
    h('span', { class: 'stat-value' }, value ?? '—'),
    h('span', { class: 'stat-label' }, label));
}

export function renderOverview(sys) {
  const body = $('overview-body');
  if (!sys) {
    replace(body, h('p', { class: 'muted' }, 'No data from the server yet.'));
    return;
  }
  const shm = sys.shm || {};
  const size = shm.sizeBytes ?? 0;
  const free = shm.freeBytes ?? 0;
  const used = shm.usedBytes ?? Math.max(0, size - free);
  const low = size > 0 && (free < size * LOW_SHARE || free < LOW_BYTES);
  const counts = sys.counts || {};
  const warn = low
    ? h('p', { class: 'warning', role: 'alert', dataset: { testid: 'low-space-warning' } },
      `Low shared memory: only ${formatBytes(free)} free of ${formatBytes(size)} in ${shm.path || '/dev/shm'}. `,
      'Growing or creating sections may fail with 507.')
    : null;
  replace(body,
    h('div', { class: 'capacity', dataset: { testid: 'capacity' }, role: 'group', 'aria-label': 'Capacity' },
      gauge(used, size, low),
      h('div', { class: 'capacity-text' },
        h('div', { class: 'capacity-path' }, shm.path || '/dev/shm'),
        h('div', { title: formatExactBytes(used) }, h('span', { class: low ? 'swatch used low' : 'swatch used' }), `Used ${formatBytes(used)}`),
        h('div', { title: formatExactBytes(free) }, h('span', { class: 'swatch free' }), `Free ${formatBytes(free)}`),
        h('div', { class: 'muted', title: formatExactBytes(size) }, `of ${formatBytes(size)}`),
        h('meter', { class: 'visually-hidden', min: 0, max: size || 1, value: used, 'aria-label': 'Used space' }))),
    h('div', { class: 'stats' },
      stat('sections', counts.sections, { key: 'sections' }),
      stat('managed', counts.managed, { key: 'managed' }),
      stat('foreign', counts.foreign, { key: 'foreign' }),
      stat('orphaned', counts.orphan, { key: 'orphan', cls: counts.orphan ? 'attention' : '',
        title: 'No process other than shm-admin maps or holds them' }),
      stat('semaphores', counts.semaphores, { key: 'semaphores' }),
      stat('missing', counts.missing, { key: 'missing', cls: counts.missing ? 'danger' : '',
        title: 'Managed sections whose object is gone from /dev/shm' })),
    h('dl', { class: 'sysinfo' },
      h('dt', {}, 'page size'), h('dd', {}, formatBytes(sys.pageSize)),
      h('dt', {}, 'shmmax'), h('dd', { title: formatExactBytes(sys.shmmax) }, formatBytes(sys.shmmax)),
      h('dt', {}, 'kernel'), h('dd', {}, sys.kernel ?? '—'),
      h('dt', {}, 'version'), h('dd', {}, sys.version ?? '—'),
      h('dt', {}, 'uptime'), h('dd', {}, sys.uptimeSeconds != null ? formatDuration(sys.uptimeSeconds) : '—')),
    warn);
}
