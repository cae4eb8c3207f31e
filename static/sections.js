// Sections table: sortable, filterable; bars for commit/reserve and data/commit.
import { h, replace, $ } from './dom.js';
import { formatBytes, formatExactBytes, formatAge, exactTime, percent } from './format.js';

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

const view = { sortKey: 'name', sortDir: 1, q: '', owner: '', kind: '' };
let lastList = [];
let lastSelected = null;
let onSelect = () => {};

export function initSections(select) {
  onSelect = select;
  $('filter-q').addEventListener('input', (e) => { view.q = e.target.value; rerender(); });
  $('filter-owner').addEventListener('change', (e) => { view.owner = e.target.value; rerender(); });
  $('filter-kind').addEventListener('change', (e) => { view.kind = e.target.value; rerender(); });
  $('filters').addEventListener('submit', (e) => e.preventDefault());
  renderHead();
}

function renderHead() {
  replace($('sections-head'), COLUMNS.map((c) => {
    const active = view.sortKey === c.key;
    const dir = active ? (view.sortDir > 0 ? 'ascending' : 'descending') : 'none';
    return h('th', { scope: 'col', class: c.cls || '', 'aria-sort': dir },
      h('button', {
        type: 'button', class: 'sort', dataset: { sort: c.key },
        title: `Sort by ${c.label.toLowerCase()}`,
        onclick: () => {
          if (view.sortKey === c.key) view.sortDir = -view.sortDir;
          else { view.sortKey = c.key; view.sortDir = 1; }
          renderHead();
          rerender();
        },
      }, c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (view.sortDir > 0 ? ' ▲' : ' ▼') : '')));
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

/** A small bar: part of whole, with the text next to it. */
export function bar(part, whole, label, title, cls = '') {
  const pct = percent(part, whole);
  return h('div', { class: `bar-cell ${cls}`, title },
    h('span', { class: 'bar', role: 'img', 'aria-label': `${Math.round(pct)} percent` },
      h('span', { class: 'bar-fill', style: { width: `${pct}%` } })),
    h('span', { class: 'bar-text' }, label));
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

function rerender() {
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
