// Delete with a confirmation naming the processes that still map the section; force only after that.
import { h, replace } from './dom.js';
import { api } from './api.js';
import { openForm } from './dialogs.js';
import { onChangedCallback } from './actions-bus.js';

function mapperItems(mappers) {
  return mappers.map((m) => h('li', { dataset: { pid: String(m.pid) } },
    h('strong', {}, `pid ${m.pid}`), m.command ? ` ${m.command}` : '',
    m.start ? h('span', { class: 'muted mono' }, ` ${m.start}–${m.end} ${m.access || ''}`) : null,
    m.start === undefined && m.fd !== undefined ? h('span', { class: 'muted mono' }, ` holds fd ${m.fd}`) : null));
}

/** Merges the 409 problem's pids with what the detail knows about those processes. */
function mappersFromPids(pids, known) {
  return pids.map((pid) => known.find((m) => m.pid === pid) || { pid });
}

export function openDelete(s) {
  return guardedDelete({
    name: s.name,
    missing: s.state === 'missing',
    remove: (force) => api.remove(s.name, force),
    detail: () => api.section(s.name),
    deleted: () => onChangedCallback()(s.name, { deleted: true }),
    consequence: 'Deleting removes the name and shm-admin\'s record; they keep their mapping until they unmap it. ',
    gone: `No other process maps ${s.name}. Its name and contents go; this cannot be undone.`,
  });
}

/**
 * The guarded delete of another mount's object or a System V segment (API-HOST.md): 409 with the
 * `pids` that map or hold it (System V: attach) unless forced; `deleted()` runs after the 204.
 */
export function openDeleteObject(o, label, deleted) {
  const sysv = o.kind === 'sysv';
  return guardedDelete({
    name: label,
    missing: false,
    remove: (force) => api.removeObject(o.href, force),
    detail: () => api.object(o.href),
    deleted,
    withHolders: !sysv,
    verb: sysv ? 'attach' : 'map or hold',
    consequence: sysv
      ? 'Forcing marks the segment for removal (IPC_RMID): it goes when the last of them detaches. '
      : 'Deleting removes the name from its mount; they keep their mapping until they unmap it. ',
    gone: sysv
      ? `No process attaches ${label}. Removing it (IPC_RMID) frees its memory; this cannot be undone.`
      : `No process maps or holds ${label}. Its name and contents go; this cannot be undone.`,
  });
}

async function guardedDelete({ name, missing, remove, detail, deleted, consequence, gone, verb = 'map', withHolders = false }) {
  const box = h('div', { class: 'delete-info', dataset: { testid: 'delete-info' } }, h('p', { class: 'muted' }, 'Checking who maps it…'));
  let force = false;
  let known = [];
  const ui = openForm({
    title: `Delete ${name}?`,
    testid: 'delete-form',
    intro: box,
    submitLabel: 'Delete',
    danger: true,
    onSubmit: async () => {
      try {
        await remove(force);
      } catch (e) {
        if (e.status === 409 && !force) {
          const pids = Array.isArray(e.problem?.pids) ? e.problem.pids : [];
          showMappers(mappersFromPids(pids, known), e);
          return false;
        }
        throw e;
      }
      deleted();
    },
  });

  function showMappers(mappers, problem) {
    force = mappers.length > 0 || !!problem;
    ui.submit.textContent = force ? 'Force delete' : 'Delete';
    ui.submit.dataset.force = String(force);
    ui.form.dataset.force = String(force);
    replace(box,
      mappers.length
        ? [h('p', { role: 'alert' }, `${mappers.length === 1 ? 'This process still' : 'These processes still'} ${verb} ${name}:`),
          h('ul', { class: 'mappers', dataset: { testid: 'delete-mappers' } }, mapperItems(mappers)),
          h('p', {}, consequence, 'Force delete only if they can live with that.')]
        : problem
          ? [h('p', { role: 'alert' }, problem.detail || 'The server refused: it is still in use.')]
          : [h('p', {}, missing ? 'The object is already gone; this forgets the record.' : gone)]);
    ui.submit.focus();
  }

  try {
    const d = await detail();
    known = [...(d.mapperList || [])];
    // Another mount's object is also guarded by its holders (API-HOST.md): add those that do not map it.
    if (withHolders) for (const o of d.holderList || []) if (!known.some((m) => m.pid === o.pid)) known.push(o);
    showMappers(known);
  } catch (e) {
    if (e.status === 404) {
      replace(box, h('p', {}, 'It is already gone.'));
    } else {
      showMappers([]);
    }
  }
}
