// The mounts strip (API-HOST.md): one small gauge per shared-memory mount on the host — the
// server's own first, then every container's /dev/shm — with its container and its exposure
// (bytes of objects with no memory behind them, against the mount's free bytes).
import { h, replace, $ } from './dom.js';
import { formatBytes, formatExactBytes } from './format.js';
import { gauge } from './overview.js';
import { sparkline, mountSeries } from './sparkline.js';

let lastMounts = null;

/** Who a mount belongs to, in a few characters: `host`, `docker 3f2a9c1b0d4e`, `systemd foo.service`. */
export function containerLabel(m) {
  if (m.host) return 'server';
  const c = m.container || {};
  if (!c.runtime || c.runtime === 'none') return 'host';
  const id = c.id ? ` ${c.id.length === 64 ? c.id.slice(0, 12) : c.id}` : '';
  return `${c.runtime}${id}`;
}

function mountItem(m) {
  const size = m.sizeBytes ?? 0;
  const used = m.usedBytes ?? 0;
  const free = m.freeBytes ?? 0;
  const low = size > 0 && free < size * 0.1;
  const limit = m.container?.memoryMax != null ? ` · cgroup limit ${formatBytes(m.container.memoryMax)}` : '';
  const title = m.sizeBytes == null
    ? `${m.id}: not reachable (the server may not inspect its processes)`
    : `${m.id} · ${formatExactBytes(used)} used of ${formatExactBytes(size)} · ${m.objects} objects · `
      + `${m.processes} processes${limit}`;
  return h('li', {
    class: `mount${m.exposed ? ' exposed' : ''}`,
    dataset: { mount: m.id, host: String(!!m.host), exposed: String(!!m.exposed) },
    title,
  },
  gauge(used, size || 1, low || m.exposed),
  h('div', { class: 'mount-text' },
    h('div', { class: 'mount-who' }, containerLabel(m)),
    h('div', { class: 'muted' }, `${m.id} · ${size ? formatBytes(size) : '—'}`),
    m.exposureBytes > 0
      ? h('div', { class: m.exposed ? 'mount-exposure danger' : 'mount-exposure',
        dataset: { testid: 'mount-exposure' },
        title: 'Bytes of objects with no memory behind them: a writer touching them needs free tmpfs pages, '
          + 'and dies of SIGBUS when there are none.' },
      `${m.exposed ? 'exposed' : 'unbacked'} ${formatBytes(m.exposureBytes)}`)
      : null),
  h('div', { class: 'mount-sparks' },
    h('div', { class: 'spark-row', dataset: { testid: 'mount-used-history' } },
      h('span', { class: 'spark-label muted' }, 'used'),
      sparkline(mountSeries(m.id, 1), { label: `${m.id} used`, max: size })),
    h('div', { class: 'spark-row', dataset: { testid: 'mount-exposure-history' } },
      h('span', { class: 'spark-label muted' }, 'unbacked'),
      sparkline(mountSeries(m.id, 2), { label: `${m.id} unbacked bytes`, max: Math.max(size, 1), cls: 'exposure' }))));
}

/** The mounts of the last answer, for the inventory's mount filter and labels. */
export const knownMounts = () => lastMounts || [];

/** Renders the strip; called with no argument it redraws the last mounts (new history samples). */
export function renderMounts(mounts = lastMounts) {
  lastMounts = mounts;
  const strip = $('mounts-strip');
  if (!strip) return;
  if (!mounts || mounts.length === 0) {
    strip.hidden = true;
    return;
  }
  strip.hidden = false;
  replace(strip,
    h('h3', { class: 'mounts-title' }, `Shared-memory mounts (${mounts.length})`),
    h('ul', { class: 'mounts', dataset: { testid: 'mounts' } }, ...mounts.map(mountItem)));
}
