// The whole-host rows of the sections table (GET /api/v1/inventory, API-HOST.md): every kind and
// mount, with kind, mount and container columns, allocated bytes (and their sparkline for the
// largest objects), unbacked bytes, mappers and holders. sections.js owns the table and filters.
import { h } from './dom.js';
import { formatBytes, formatExactBytes } from './format.js';
import { bar } from './bar.js';
import { sparkline, objectSeries } from './sparkline.js';

/** Who an object's container is, in a few characters: `docker 3f2a9c1b0d4e`, `host` when none. */
export function objectContainer(c) {
  if (!c || !c.runtime || c.runtime === 'none') return 'host';
  const id = c.id ? ` ${c.id.length === 64 ? c.id.slice(0, 12) : c.id}` : '';
  return `${c.runtime}${id}${c.pod ? ` pod ${c.pod.slice(0, 8)}` : ''}`;
}

/** What a row of the inventory is called: its name, or what it is when it has none. */
export function objectName(o) {
  // A System V segment's name is its key; IPC_PRIVATE (0) ones all share it, so the shmid tells them apart.
  if (o.kind === 'sysv') return `${o.key ? `key ${o.name ?? o.key}` : 'private'} · shmid ${o.shmid ?? '?'}`;
  if (o.name) return o.name;
  return `${o.kind} (no name)`;
}

export const HOST_COLUMNS = [
  { key: 'name', label: 'Name', sort: (o) => objectName(o) },
  { key: 'kind', label: 'Kind', sort: (o) => o.kind },
  { key: 'mount', label: 'Mount', sort: (o) => o.mount ?? '' },
  { key: 'container', label: 'Container', sort: (o) => objectContainer(o.container), cls: 'narrow-hide' },
  { key: 'allocated', label: 'Allocated / size', sort: (o) => o.allocatedBytes ?? 0 },
  { key: 'unbacked', label: 'Unbacked', sort: (o) => o.unbackedBytes ?? 0, num: true },
  { key: 'mappers', label: 'Mappers', sort: (o) => o.mappers ?? 0, num: true },
  { key: 'holders', label: 'Holders', sort: (o) => o.holders ?? 0, num: true, cls: 'narrow-hide' },
];

/** One row of the host's list; `onSelect(href)` opens the object. */
export function hostRow(o, { selected, onSelect }) {
  const name = objectName(o);
  const cls = [o.orphan ? 'orphan' : '', selected ? 'selected' : '', o.kind === 'semaphore' ? 'semaphore' : ''].join(' ').trim();
  const size = o.size ?? o.commit ?? 0;
  const series = objectSeries(o.href);
  const select = () => onSelect(o.href);
  const cells = [
    h('td', { class: 'name' },
      h('button', {
        type: 'button', class: `link${o.name ? '' : ' unnamed'}`, dataset: { testid: 'select-object' }, onclick: select,
        title: o.path || o.href,
      }, name),
      o.orphan ? h('span', { class: 'tag attention', title: 'No process other than shm-admin maps, holds or locks it' }, 'orphan') : null),
    h('td', {}, o.kind),
    h('td', { class: 'mono', title: o.kind === 'sysv' ? `IPC namespace ${o.ipc}` : '' },
      o.mount ?? (o.kind === 'sysv' && o.ipc != null ? `ipc ${o.ipc}` : '—')),
    h('td', { class: 'mono', title: o.container?.id || '' }, objectContainer(o.container)),
    h('td', {}, h('div', { class: 'alloc-cell' },
      bar(o.allocatedBytes, size, `${formatBytes(o.allocatedBytes)} / ${formatBytes(size)}`,
        `allocated ${formatExactBytes(o.allocatedBytes)} of ${formatExactBytes(size)}`),
      series.length ? sparkline(series, { label: `${name} allocated` }) : null)),
    h('td', { class: `num${o.unbackedBytes > 0 ? ' unbacked' : ''}`, title: formatExactBytes(o.unbackedBytes) },
      o.unbackedBytes > 0 ? formatBytes(o.unbackedBytes) : '0'),
    h('td', { class: 'num' }, String(o.mappers ?? 0)),
    h('td', { class: 'num' }, String(o.holders ?? 0)),
  ];
  cells.forEach((td, i) => {
    td.dataset.label = HOST_COLUMNS[i].label;
    if (HOST_COLUMNS[i].cls) td.classList.add(HOST_COLUMNS[i].cls);
  });
  return h('tr', {
    class: cls,
    dataset: { href: o.href, kind: o.kind, mount: o.mount ?? '', orphan: String(!!o.orphan), ...(o.name ? { name: o.name } : {}) },
    'aria-current': selected ? 'true' : null,
    onclick: (e) => { if (!e.target.closest('button')) select(); },
  }, cells);
}
