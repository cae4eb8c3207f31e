// Delete with a confirmation naming the processes that still map the section; force only after that.
import { h, replace } from './dom.js';
import { api } from './api.js';
import { openForm } from './dialogs.js';
import { onChangedCallback } from './actions-bus.js';

function mapperItems(mappers) {
  return mappers.map((m) => h('li', { dataset: { pid: String(m.pid) } },
    h('strong', {}, `pid ${m.pid}`), m.command ? ` ${m.command}` : '',
    m.start ? h('span', { class: 'muted mono' }, ` ${m.start}–${m.end} ${m.access || ''}`) : null));
}

/** Merges the 409 problem's pids with what the detail knows about those processes. */
function mappersFromPids(pids, known) {
  return pids.map((pid) => known.find((m) => m.pid === pid) || { pid });
}

export async function openDelete(s) {
  const box = h('div', { class: 'delete-info', dataset: { testid: 'delete-info' } }, h('p', { class: 'muted' }, 'Checking who maps it…'));
  let force = false;
  let known = [];
  const ui = openForm({
    title: `Delete ${s.name}?`,
    testid: 'delete-form',
    intro: box,
    submitLabel: 'Delete',
    danger: true,
    onSubmit: async () => {
      try {
        await api.remove(s.name, force);
      } catch (e) {
        if (e.status === 409 && !force) {
          const pids = Array.isArray(e.problem?.pids) ? e.problem.pids : [];
          showMappers(mappersFromPids(pids, known), e);
          return false;
        }
        throw e;
      }
      onChangedCallback()(s.name, { deleted: true });
    },
  });

  function showMappers(mappers, problem) {
    force = mappers.length > 0 || !!problem;
    ui.submit.textContent = force ? 'Force delete' : 'Delete';
    ui.submit.dataset.force = String(force);
    ui.form.dataset.force = String(force);
    replace(box,
      mappers.length
        ? [h('p', { role: 'alert' }, `${mappers.length === 1 ? 'This process still maps' : 'These processes still map'} ${s.name}:`),
          h('ul', { class: 'mappers', dataset: { testid: 'delete-mappers' } }, mapperItems(mappers)),
          h('p', {}, 'Deleting removes the name and shm-admin\'s record; they keep their mapping until they unmap it. ',
            'Force delete only if they can live with that.')]
        : problem
          ? [h('p', { role: 'alert' }, problem.detail || 'The server refused: the section is still mapped.')]
          : [h('p', {}, s.state === 'missing'
            ? 'The object is already gone; this forgets the record.'
            : `No other process maps ${s.name}. Its name and contents go; this cannot be undone.`)]);
    ui.submit.focus();
  }

  try {
    const detail = await api.section(s.name);
    known = detail.mapperList || [];
    showMappers(known);
  } catch (e) {
    if (e.status === 404) {
      replace(box, h('p', {}, 'It is already gone.'));
    } else {
      showMappers([]);
    }
  }
}
