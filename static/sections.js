// Sections table: sortable, filterable; bars for commit/reserve and data/commit. Two scopes:
// "this directory" (GET /api/v1/sections, the server's own shm directory) and "whole host"
// (GET /api/v1/inventory: every kind and mount, with kind, mount and container columns).
import { h, replace, $ } from './dom.js';
import { formatBytes, formatExactBytes, formatAge, exactTime } from './format.js';
import { bar } from './bar.js';
import { HOST_COLUMNS, hostRow } from './inventory.js';

const COLUMNS = [
  { key: 'name', label: 'Name', sort: (s) => s.name },
  { key: 'kind', label: 'Kind', sort: (s) => s.kind, cls: 'narrow-hide' },
  { key: 'owner', label: 'Owner', sort: (s) => (s.managed ? 0 : 1) },
  { key: 'namespace', label: 'Namespace', sort: (s) => s.namespace, cls: 'narrow-hide' },
  { key: 'mode', label: 'Mode', sort: (s) => s.mode, cls: 'narrow-hide' },
  { key: 'commit', label: 'Commit / reserve', sort: (s) => s.commit ?? 0 },
  { key: 'data', label: 'Data / commit', sort: (s) => s.dataBytes ?? 0 },
  { key: 'mappers', label: 'Mappers', sort: (s) => s.mappers ?? 0, num: true },
  { key: 'age', label: 'Age', sort: (s) => -(Date.parse(s.createdAt) || 0) },
];

const view = { scope: 'dir', sortKey: 'name', sortDir: 1, q: '', owner: '', kind: '' };
// The host scope sorts by allocated bytes, largest first (the inventory's own order).
const hostView = { sortKey: 'allocated', sortDir: -1, kind: '', mount: '', orphan: false };
let lastList = [];
let lastSelected = null;
let lastHostList = [];
let lastHostTotal = 0;
let onSelect = () => {};
let onSelectObject = () => {};
let onScope = () => {};
let qTimer = null;

const columns = () => (view.scope === 'host' ? HOST_COLUMNS : COLUMNS);
const sorting = () => (view.scope === 'host' ? hostView : view);

/** The inventory's query for the filters in force (the server filters: a host may hold more than a page). */
export function inventoryQuery() {
  return {
    kind: hostView.kind, mount: hostView.mount, orphan: hostView.orphan ? 'true' : '', q: view.q,
  };
}

export const scope = () => view.scope;

/**
 * select(name) opens a section of the server's directory; selectObject(href) any other object;
 * scopeChanged(scope) asks the app to load the list of that scope (and again when a host filter changes).
 */
export function initSections(select, selectObject, scopeChanged) {
  onSelect = select;
  onSelectObject = selectObject;
  onScope = scopeChanged;
  $('filter-q').addEventListener('input', (e) => {
    view.q = e.target.value;
    if (view.scope === 'host') {
      clearTimeout(qTimer);
      qTimer = setTimeout(() => onScope(view.scope), 250);
    } else rerender();
  });
  $('filter-owner').addEventListener('change', (e) => { view.owner = e.target.value; rerender(); });
  $('filter-kind').addEventListener('change', (e) => {
    if (view.scope === 'host') {
      hostView.kind = e.target.value;
      onScope(view.scope);
    } else {
      view.kind = e.target.value;
      rerender();
    }
  });
  $('filter-mount').addEventListener('change', (e) => { hostView.mount = e.target.value; onScope(view.scope); });
  $('filter-orphan').addEventListener('change', (e) => { hostView.orphan = e.target.checked; onScope(view.scope); });
  $('filters').addEventListener('submit', (e) => e.preventDefault());
  for (const b of document.querySelectorAll('#scope-toggle button')) {
    b.addEventListener('click', () => setScope(b.dataset.scope));
  }
  renderHead();
}

/** Switches between the server's directory and the whole host; `filters` presets the host's ({mount}). */
export function setScope(next, filters = {}) {
  if (filters.mount !== undefined) hostView.mount = filters.mount;
  const changed = next !== view.scope;
  view.scope = next;
  const host = next === 'host';
  for (const b of document.querySelectorAll('#scope-toggle button')) {
    b.setAttribute('aria-pressed', String(b.dataset.scope === next));
  }
  $('sections').dataset.scope = next;
  $('sections-title').textContent = host ? 'All shared memory on this host' : 'Sections';
  $('sections-table').querySelector('caption').textContent = host
    ? 'Every shared-memory object on the host, largest first; choose one to see its details'
    : 'Shared-memory sections; choose one to see its details';
  for (const e of document.querySelectorAll('.filters [data-scope]')) e.hidden = e.dataset.scope !== next;
  // The kinds only the host scope has.
  for (const o of $('filter-kind').querySelectorAll('option[data-host]')) o.hidden = !host;
  $('filter-kind').value = host ? hostView.kind : view.kind;
  // The inventory's ?q= is a case-sensitive substring (API-HOST.md); the directory's filter is the page's own.
  $('filter-q').placeholder = host ? 'substring, case-sensitive' : 'substring';
  renderMountFilter();
  $('filter-orphan').checked = hostView.orphan;
  renderHead();
  if (changed || filters.mount !== undefined) {
    replace($('sections-body'));
    $('sections-count').textContent = 'Loading…';
    onScope(next);
  }
}

/** Fills the mount filter with the host's mounts (kept selected when still there). */
let filterMounts = [];

export function renderMountFilter(mounts = filterMounts) {
  filterMounts = mounts || [];
  const select = $('filter-mount');
  const value = hostView.mount;
  const ids = (mounts || []).map((m) => m.id);
  if (value && !ids.includes(value)) ids.push(value);
  replace(select, h('option', { value: '' }, 'all'),
    ids.map((id) => {
      const m = (mounts || []).find((x) => x.id === id);
      return h('option', { value: id, selected: id === value }, m?.host ? `${id} (server)` : id);
    }));
}

function renderHead() {
  const cols = columns();
  const v = sorting();
  replace($('sections-head'), cols.map((c) => {
    const active = v.sortKey === c.key;
    const dir = active ? (v.sortDir > 0 ? 'ascending' : 'descending') : 'none';
    return h('th', { scope: 'col', class: `${c.cls || ''} ${c.num ? 'num' : ''}`.trim(), 'aria-sort': dir },
      h('button', {
        type: 'button', class: 'sort', dataset: { sort: c.key },
        title: `Sort by ${c.label.toLowerCase()}`,
        onclick: () => {
          if (v.sortKey === c.key) v.sortDir = -v.sortDir;
          else { v.sortKey = c.key; v.sortDir = 1; }
          renderHead();
          rerender();
        },
      }, c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (v.sortDir > 0 ? ' ▲' : ' ▼') : '')));
  }));
}

function matches(s) {
  if (view.q && !s.name.toLowerCase().includes(view.q.toLowerCase())) return false;
  if (view.kind && s.kind !== view.kind) return false;
  switch (view.owner) {
    case 'managed': return s.managed;
    case 'foreign': return !s.managed;
    case 'orphan': return !!s.orphan;
    case 'missing': return s.state === 'missing';
    default: return true;
  }
}

function row(s) {
  const missing = s.state === 'missing';
  const cls = [s.orphan && !missing ? 'orphan' : '', missing ? 'missing' : '', s.name === lastSelected ? 'selected' : '',
    s.kind === 'semaphore' ? 'semaphore' : ''].join(' ').trim();
  const commitCell = s.reserve == null
    ? h('div', { class: 'bar-cell', title: `${formatExactBytes(s.commit)} (foreign: no reserve)` },
      h('span', { class: 'bar na', 'aria-hidden': 'true' }), h('span', { class: 'bar-text' }, `${formatBytes(s.commit)} / —`))
    : bar(s.commit, s.reserve, `${formatBytes(s.commit)} / ${formatBytes(s.reserve)}`,
      `committed ${formatExactBytes(s.commit)} of ${formatExactBytes(s.reserve)} reserved`);
  const dataCell = bar(s.dataBytes, s.commit, `${formatBytes(s.dataBytes)} / ${formatBytes(s.commit)}`,
    `data ${formatExactBytes(s.dataBytes)} of ${formatExactBytes(s.commit)} committed`, 'data');
  const select = () => onSelect(s.name);
  const cells = [
    h('td', { class: 'name' },
      h('button', { type: 'button', class: 'link', dataset: { testid: 'select-section' }, onclick: select, title: s.path || s.name }, s.name),
      missing ? h('span', { class: 'tag danger', title: 'The object vanished from /dev/shm (e.g. after a reboot)' }, 'missing') : null,
      s.orphan && !missing ? h('span', { class: 'tag attention', title: 'No process other than shm-admin maps or holds it' }, 'orphan') : null),
    h('td', {}, s.kind),
    h('td', {}, h('span', { class: s.managed ? 'tag managed' : 'tag foreign' }, s.managed ? 'managed' : 'foreign')),
    h('td', {}, s.namespace ?? '—'),
    h('td', { class: 'mono' }, s.mode ?? '—'),
    h('td', {}, commitCell),
    h('td', {}, dataCell),
    h('td', { class: 'num' }, String(s.mappers ?? 0)),
    h('td', { title: exactTime(s.createdAt) }, formatAge(s.createdAt)),
  ];
  cells.forEach((td, i) => {
    td.dataset.label = COLUMNS[i].label;
    if (COLUMNS[i].cls) td.classList.add(COLUMNS[i].cls);
  });
  const tr = h('tr', {
    class: cls, dataset: { section: s.name, state: s.state || 'ok', orphan: String(!!s.orphan), managed: String(!!s.managed) },
    'aria-current': s.name === lastSelected ? 'true' : null,
    onclick: (e) => { if (!e.target.closest('button')) select(); },
  }, cells);
  return tr;
}

function rerenderHost() {
  const col = HOST_COLUMNS.find((c) => c.key === hostView.sortKey) || HOST_COLUMNS[0];
  const rows = [...lastHostList].sort((a, b) => {
    const x = col.sort(a);
    const y = col.sort(b);
    const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''));
    return (cmp || a.href.localeCompare(b.href)) * hostView.sortDir;
  });
  replace($('sections-body'), rows.map((o) => hostRow(o, { selected: o.href === lastSelected, onSelect: onSelectObject })));
  $('sections-empty').hidden = rows.length > 0;
  $('sections-count').textContent = lastHostTotal > rows.length
    ? `${rows.length} of ${lastHostTotal} objects (largest first)` : `${rows.length} objects`;
}

function rerender() {
  if (view.scope === 'host') {
    rerenderHost();
    return;
  }
  const col = COLUMNS.find((c) => c.key === view.sortKey) || COLUMNS[0];
  const rows = lastList.filter(matches).sort((a, b) => {
    const x = col.sort(a);
    const y = col.sort(b);
    const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''));
    return (cmp || a.name.localeCompare(b.name)) * view.sortDir;
  });
  replace($('sections-body'), rows.map(row));
  $('sections-empty').hidden = rows.length > 0;
  $('sections-count').textContent = rows.length === lastList.length
    ? `${lastList.length} total` : `${rows.length} of ${lastList.length} shown`;
}

/** Renders the list (keeps focus on the row's button if it had it). */
export function renderSections(list, selected, total) {
  if (view.scope !== 'dir') return;
  const focused = document.activeElement?.closest?.('tr[data-section]')?.dataset.section;
  lastList = list || [];
  lastSelected = selected;
  rerender();
  if (total !== undefined && total > lastList.length) {
    $('sections-count').textContent += ` (server lists ${total}; first ${lastList.length} loaded)`;
  }
  if (focused) {
    const tr = document.querySelector(`tr[data-section="${CSS.escape(focused)}"] button.link`);
    tr?.focus();
  }
}

/** Renders the inventory (the host scope); `selected` is the href of the open object. */
export function renderInventory(r, selected) {
  if (view.scope !== 'host') return;
  const focused = document.activeElement?.closest?.('tr[data-href]')?.dataset.href;
  if (r) {
    lastHostList = r.objects || [];
    lastHostTotal = r.total ?? lastHostList.length;
  }
  lastSelected = selected;
  rerenderHost();
  if (focused) document.querySelector(`tr[data-href="${CSS.escape(focused)}"] button.link`)?.focus();
}
