// Section detail: metadata, labels, own views, other processes' mappings, holders, lock.
import { h, replace, $, keepingFocus } from './dom.js';
import { formatBytes, formatExactBytes, formatAge, exactTime } from './format.js';
import { api, hasToken } from './api.js';
import {
  actionButton, reason, NO_TOKEN, openGrow, openReset, openWrite, openMapView, openMoveView, openLease, openAdopt, runAction,
} from './actions.js';
import { openDelete } from './delete.js';
import { showError } from './errors.js';
import { sparkline, objectSeries } from './sparkline.js';

/** Memory of one mapping (smaps, API-HOST.md); null when the server could not read it. */
const mem = (n) => h('td', { class: 'num', title: formatExactBytes(n) }, n == null ? '—' : formatBytes(n));

/** The mappers table of any detail: version 1's columns plus each mapping's RSS, PSS and swap. */
export function mappersTable(list) {
  return table('mappers-table', ['pid', 'command', 'range', 'offset', 'access', 'RSS', 'PSS', 'swap'],
    (list || []).map((m) => h('tr', { dataset: { pid: String(m.pid) } },
      h('td', {}, String(m.pid)), h('td', { class: 'cmd', title: m.command }, m.command || '—'),
      h('td', { class: 'mono' }, `${m.start}–${m.end}`), h('td', {}, formatBytes(m.offset)), h('td', {}, m.access),
      mem(m.rssBytes), mem(m.pssBytes), mem(m.swapBytes))),
    'No other process maps it.');
}

export function holdersTable(list) {
  return table('holders-table', ['pid', 'command', 'fd'],
    (list || []).map((o) => h('tr', { dataset: { pid: String(o.pid) } },
      h('td', {}, String(o.pid)), h('td', { class: 'cmd', title: o.command }, o.command || '—'), h('td', {}, String(o.fd)))),
    'No process holds it open.');
}

export function lockHoldersTable(list) {
  return table('lock-holders-table', ['pid', 'mode', 'type'],
    (list || []).map((l) => h('tr', { dataset: { pid: String(l.pid) } },
      h('td', {}, l.pid === -1 ? 'OFD' : String(l.pid)), h('td', {}, l.mode), h('td', {}, l.type))),
    'Nobody holds the lock.');
}

/** The allocated bytes of the last hour, when the object is among the largest the history keeps. */
export function renderHistory(href, label) {
  const series = href ? objectSeries(href) : [];
  replace($('detail-history'), series.length
    ? [h('h3', {}, 'Allocated, last hour'),
      h('div', { class: 'spark-row', dataset: { testid: 'object-history' } }, sparkline(series, { label: `${label} allocated`, cls: 'wide' }))]
    : null);
}

/** `/api/v1/sections/NAME` with NAME encoded as the server encodes hrefs (unreserved characters kept). */
export function sectionHref(name) {
  let out = '';
  for (const b of new TextEncoder().encode(name)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `/api/v1/sections/${out}`;
}

export function table(testid, columns, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted empty', dataset: { testid: `${testid}-empty` } }, empty);
  return h('div', { class: 'table-wrap' }, h('table', { class: 'compact', dataset: { testid } },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows)));
}

export function when(iso) {
  return h('time', { datetime: iso, title: exactTime(iso) }, formatAge(iso));
}

function meta(s) {
  const rows = [
    ['path', h('span', { class: 'mono' }, s.path || `/dev/shm/${s.name}`)],
    ['kind', s.kind],
    ['owner', s.managed ? 'managed by shm-admin' : 'foreign (observed only)'],
    ['namespace', s.namespace ?? '—'],
    ['state', s.state === 'missing' ? h('span', { class: 'tag danger' }, 'missing') : s.state || 'ok'],
    ['reserve', s.reserve == null ? '— (foreign)' : h('span', { title: formatExactBytes(s.reserve) }, formatBytes(s.reserve))],
    ['commit', h('span', { title: formatExactBytes(s.commit) }, formatBytes(s.commit))],
    ['allocated', h('span', { title: formatExactBytes(s.allocatedBytes) }, formatBytes(s.allocatedBytes))],
    ['data', h('span', { title: formatExactBytes(s.dataBytes) }, formatBytes(s.dataBytes))],
    ['mode', h('span', { class: 'mono' }, s.mode ?? '—')],
    ['uid / gid', `${s.uid ?? '—'} / ${s.gid ?? '—'}`],
    ['created', when(s.createdAt)],
    ['modified', when(s.modifiedAt)],
    ['views / mappers', `${s.views ?? 0} / ${s.mappers ?? 0}`],
    ['orphan', s.orphan ? h('span', { class: 'tag attention' }, 'yes: nobody else maps or holds it') : 'no'],
  ];
  return rows.map(([k, v]) => [h('dt', {}, k), h('dd', { dataset: { field: k } }, v)]);
}

function badges(s) {
  return [
    h('span', { class: `tag ${s.managed ? 'managed' : 'foreign'}` }, s.managed ? 'managed' : 'foreign'),
    h('span', { class: 'tag' }, s.namespace || s.kind),
    s.kind === 'semaphore' ? h('span', { class: 'tag' }, 'semaphore') : null,
    s.state === 'missing' ? h('span', { class: 'tag danger' }, 'missing') : null,
    s.orphan ? h('span', { class: 'tag attention' }, 'orphan') : null,
  ];
}

export function renderDetail(s, ctx) {
  const panel = $('detail');
  if (!s) {
    panel.hidden = true;
    return;
  }
  keepingFocus(panel, () => fill(panel, s, ctx));
}

function fill(panel, s, ctx) {
  panel.hidden = false;
  panel.dataset.section = s.name;
  panel.dataset.href = s.href || sectionHref(s.name);
  panel.dataset.kind = s.kind;
  panel.dataset.state = s.state || 'ok';
  $('detail-own').hidden = false;
  $('detail-actions').setAttribute('aria-label', 'Section actions');
  renderHistory(panel.dataset.href, s.name);
  $('detail-title').textContent = s.name;
  replace($('detail-badges'), badges(s));
  const fail = (what) => (e) => showError(e, what);

  replace($('detail-actions'),
    actionButton('grow', 'Grow…', s, () => openGrow(s)),
    actionButton('write', 'Write…', s, () => openWrite(s)),
    actionButton('reset', 'Reset range…', s, () => openReset(s, ctx.pageSize)),
    actionButton('map', 'Map view…', s, () => openMapView(s)),
    actionButton('lock', 'Take lease…', s, () => openLease(s)),
    !s.managed ? actionButton('adopt', 'Adopt…', s, () => openAdopt(s)) : null,
    actionButton('delete', s.state === 'missing' ? 'Forget…' : 'Delete…', s, () => openDelete(s), 'danger'));

  const note = $('detail-readonly');
  const why = !hasToken() ? NO_TOKEN
    : s.kind === 'semaphore' || !s.managed || s.state === 'missing' ? reason('write', s) : null;
  note.hidden = !why;
  note.textContent = why || '';

  replace($('detail-meta'), meta(s));
  const labels = Object.entries(s.labels || {});
  replace($('detail-labels'), labels.length
    ? labels.map(([k, v]) => h('span', { class: 'label-chip', dataset: { label: k } }, h('b', {}, k), '=', v))
    : h('span', { class: 'muted' }, 'none'));

  const viewWhy = reason('map', s);
  replace($('detail-views'), table('views-table', ['id', 'address', 'offset', 'length', 'access', ''],
    (s.viewList || []).map((v) => h('tr', { dataset: { view: v.id } },
      h('td', { class: 'mono' }, v.id), h('td', { class: 'mono' }, v.address),
      h('td', {}, formatBytes(v.offset)), h('td', { title: formatExactBytes(v.length) }, formatBytes(v.length)),
      h('td', {}, v.access),
      h('td', { class: 'row-actions' },
        h('button', { type: 'button', class: 'small', disabled: !!viewWhy, title: viewWhy || `Move view ${v.id}`, dataset: { testid: 'move-view' },
          onclick: () => openMoveView(s, v) }, 'Move…'),
        h('button', { type: 'button', class: 'small', disabled: !!viewWhy, title: viewWhy || `Unmap view ${v.id}`, dataset: { testid: 'unmap-view' },
          onclick: () => runAction(() => api.unmapView(s.name, v.id), s.name, fail(`Unmap ${v.id}`)) }, 'Unmap')))),
    'No views of shm-admin\'s own.'));

  replace($('detail-mappers'), mappersTable(s.mapperList));
  replace($('detail-holders'), holdersTable(s.holderList));

  const leaseWhy = reason('lock', s);
  replace($('detail-locks'),
    lockHoldersTable(s.lockHolders),
    table('leases-table', ['lease', 'mode', 'expires', ''],
      (s.leases || []).map((l) => h('tr', { dataset: { lease: l.lease } },
        h('td', { class: 'mono' }, l.lease), h('td', {}, l.mode), h('td', {}, when(l.expiresAt)),
        h('td', {}, h('button', {
          type: 'button', class: 'small', disabled: !!leaseWhy, title: leaseWhy || `Release ${l.lease}`, dataset: { testid: 'release-lease' },
          onclick: () => runAction(() => api.unlock(s.name, l.lease), s.name, fail(`Release ${l.lease}`)),
        }, 'Release')))),
      'No leases of shm-admin\'s.'));
}
