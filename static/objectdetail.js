// The detail of an object that is not a section of the server's own directory (API-HOST.md):
// another mount's POSIX object, a System V segment, a memfd or unlinked object. Its mappers with
// RSS/PSS/swap, its holders, its container and unbacked bytes; the only action is the guarded
// delete, and only where the API has one (another mount's object, a System V segment).
import { h, replace, $, keepingFocus } from './dom.js';
import { formatBytes, formatExactBytes, hex } from './format.js';
import { hasToken } from './api.js';
import { NO_TOKEN } from './actions.js';
import { openDeleteObject } from './delete.js';
import { mappersTable, holdersTable, lockHoldersTable, renderHistory, when } from './detail.js';
import { objectName, objectContainer } from './inventory.js';

const bytes = (n) => h('span', { title: formatExactBytes(n) }, formatBytes(n));

/** Which guarded delete the API has for this object, or null. */
function deletable(o) {
  return o.kind === 'sysv' || (o.kind === 'shm' && /^\/api\/v1\/mounts\/[^/]+\/sections\//.test(o.href));
}

function containerText(c) {
  if (!c) return '—';
  const parts = [objectContainer(c)];
  if (c.id && c.id.length > 12) parts.push(`id ${c.id}`);
  if (c.pod) parts.push(`pod ${c.pod}`);
  return parts.join(' · ');
}

function meta(o) {
  const sysv = o.kind === 'sysv';
  const rows = [
    ['kind', o.kind],
    o.path ? ['path', h('span', { class: 'mono' }, o.path)] : null,
    ['mount', o.mount ?? '—'],
    sysv ? ['ipc namespace', String(o.ipc ?? '—')] : null,
    sysv ? ['key', h('span', { class: 'mono' }, hex((o.key ?? 0) >>> 0, 8))] : null,
    sysv ? ['shmid', String(o.shmid ?? '—')] : null,
    ['container', containerText(o.container)],
    ['size', bytes(o.size)],
    ['allocated', bytes(o.allocatedBytes)],
    ['unbacked', o.unbackedBytes > 0
      ? h('span', { class: 'tag attention', title: `${formatExactBytes(o.unbackedBytes)} with no memory behind them: `
        + 'a writer touching them needs free tmpfs pages and dies of SIGBUS when there are none' }, formatBytes(o.unbackedBytes))
      : '0'],
    sysv ? ['RSS / swap', h('span', {}, bytes(o.rssBytes), ' / ', bytes(o.swapBytes))] : null,
    sysv ? ['attached processes', String(o.nattch ?? 0)] : null,
    sysv ? ['creator / last pid', `${o.cpid ?? '—'} / ${o.lpid ?? '—'}`] : null,
    sysv ? ['attached', when(o.attachedAt)] : null,
    sysv ? ['detached', when(o.detachedAt)] : null,
    ['mode', h('span', { class: 'mono' }, o.mode ?? '—')],
    ['uid / gid', `${o.uid ?? '—'} / ${o.gid ?? '—'}`],
    o.modifiedAt ? ['modified', when(o.modifiedAt)] : null,
    ['mappers / holders', `${o.mapperList?.length ?? o.mappers ?? 0} / ${o.holderList?.length ?? o.holders ?? 0}`],
    ['orphan', o.orphan ? h('span', { class: 'tag attention' }, 'yes: nobody maps, holds or locks it') : 'no'],
  ].filter(Boolean);
  return rows.map(([k, v]) => [h('dt', {}, k), h('dd', { dataset: { field: k } }, v)]);
}

function badges(o) {
  return [
    h('span', { class: 'tag' }, o.kind),
    o.mount ? h('span', { class: 'tag mono' }, o.mount) : null,
    h('span', { class: 'tag' }, objectContainer(o.container)),
    o.unbackedBytes > 0 ? h('span', { class: 'tag attention' }, 'unbacked') : null,
    o.orphan ? h('span', { class: 'tag attention' }, 'orphan') : null,
  ];
}

/** Fills the detail panel with `o`; `deleted()` runs after a delete. */
export function renderObjectDetail(o, { deleted }) {
  const panel = $('detail');
  keepingFocus(panel, () => {
    panel.hidden = false;
    panel.dataset.section = '';
    panel.dataset.href = o.href;
    panel.dataset.kind = o.kind;
    panel.dataset.state = 'ok';
    const label = objectName(o);
    $('detail-title').textContent = label;
    replace($('detail-badges'), badges(o));
    $('detail-actions').setAttribute('aria-label', 'Object actions');
    const why = !hasToken() ? NO_TOKEN : null;
    const del = deletable(o);
    replace($('detail-actions'), del
      ? h('button', {
        type: 'button', class: `danger ${why ? 'unavailable' : ''}`.trim(), dataset: { testid: 'delete-button', action: 'delete' },
        disabled: !!why, title: why || (o.kind === 'sysv' ? 'Remove the segment (IPC_RMID)' : 'Delete it from its mount'),
        'aria-label': why ? `Delete… (unavailable: ${why})` : null,
        onclick: () => openDeleteObject(o, label, deleted),
      }, o.kind === 'sysv' ? 'Remove…' : 'Delete…')
      : null);
    const note = $('detail-readonly');
    const noteText = !del
      ? (o.kind === 'semaphore'
        ? 'Semaphores are listed, never changed.'
        : `${/^[aeiou]/.test(o.kind) ? 'An' : 'A'} ${o.kind} object has no name to delete: it lives as long as a process holds or maps it.`)
      : why;
    note.hidden = !noteText;
    note.textContent = noteText || '';
    replace($('detail-meta'), meta(o));
    renderHistory(o.href, label);
    $('detail-own').hidden = true;
    replace($('detail-mappers'), mappersTable(o.mapperList));
    replace($('detail-holders'), holdersTable(o.holderList));
    replace($('detail-locks'), lockHoldersTable(o.lockHolders));
  });
}
