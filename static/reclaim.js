// Reclaim and quarantine (API-HOST.md "Reclaim"): a dialog that always runs POST /api/v1/reclaim
// as a dry run first and shows the candidates with their evidence and what was skipped; only then
// it offers the real run (dryRun false, mode quarantine by default) with the same settings. The
// quarantine list (GET /api/v1/quarantine) restores or purges each item.
import { h, replace, $, keepingFocus } from './dom.js';
import { api, hasToken } from './api.js';
import { openForm } from './dialogs.js';
import { NO_TOKEN } from './actions.js';
import { onChangedCallback } from './actions-bus.js';
import { showError } from './errors.js';
import { formatBytes, formatExactBytes, formatAge, formatDuration, exactTime } from './format.js';
import { describeHref } from './health.js';

const changed = () => onChangedCallback()(null, { reclaim: true });

function list(text) {
  return String(text || '').split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
}

/** The request body for the form's values (dryRun added by the caller). */
function order(v) {
  const body = { mode: v.mode, kinds: [v.kindShm ? 'shm' : null, v.kindSysv ? 'sysv' : null].filter(Boolean) };
  if (v.olderThan.trim()) body.olderThan = /^[0-9]+$/.test(v.olderThan.trim()) ? Number(v.olderThan.trim()) : v.olderThan.trim();
  const mounts = list(v.mounts);
  if (mounts.length) body.mounts = mounts;
  const exclude = list(v.exclude);
  if (exclude.length) body.exclude = exclude;
  return body;
}

const num = (n) => h('td', { class: 'num' }, n == null ? '—' : String(n));

function candidatesTable(testid, items) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'compact', dataset: { testid } },
    h('thead', {}, h('tr', {}, ['object', 'kind', 'mount', 'bytes', 'idle', 'holders', 'mappers', 'lock holders', 'nattch']
      .map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, items.map((c) => h('tr', { dataset: { href: c.href } },
      h('td', { class: 'cmd', title: c.href }, c.name ?? describeHref(c.href)),
      h('td', {}, c.kind), h('td', { class: 'mono' }, c.mount ?? '—'),
      h('td', { class: 'num', title: formatExactBytes(c.bytes) }, formatBytes(c.bytes)),
      h('td', { class: 'num' }, c.idleSeconds == null ? '—' : formatDuration(c.idleSeconds)),
      num(c.evidence?.holders), num(c.evidence?.mappers), num(c.evidence?.lockHolders), num(c.evidence?.nattch))))));
}

function skippedList(skipped) {
  if (!skipped?.length) return null;
  return [h('p', {}, `Skipped (${skipped.length}):`),
    h('ul', { class: 'skipped', dataset: { testid: 'reclaim-skipped' } }, skipped.map((s) => h('li', { dataset: { href: s.href } },
      h('span', { class: 'mono' }, describeHref(s.href)), ' — ', h('strong', {}, s.reason), s.detail ? ` (${s.detail})` : '')))];
}

/** Opens the dialog; `preset.mounts` fills the mounts field (from a finding). */
export function openReclaim(preset = {}) {
  const results = h('div', { class: 'reclaim-results', dataset: { testid: 'reclaim-results' }, 'aria-live': 'polite' });
  let phase = 'dry'; // dry → confirm (after a dry run with candidates) → done
  let shown = null; // the body of the dry run on screen
  const ui = openForm({
    title: 'Reclaim orphaned shared memory',
    testid: 'reclaim-form',
    intro: 'Orphans: nobody holds, maps or locks them, System V segments have no attachment, and they were not '
      + 'modified for the grace period. A dry run comes first and changes nothing; the server checks everything '
      + 'again at the moment of reclaiming.',
    fields: [
      { name: 'olderThan', label: 'Idle for at least (optional)', placeholder: 'the server\'s --grace, 10m by default', help: '90s, 10m, 24h…' },
      { name: 'kindShm', label: 'POSIX objects (shm), on every mount', type: 'checkbox', value: true },
      { name: 'kindSysv', label: 'System V segments (removed, never quarantined: cannot be undone)', type: 'checkbox' },
      { name: 'mounts', label: 'Only these mounts (optional)', placeholder: 'all; or 0:40, host', value: preset.mounts ?? '' },
      { name: 'exclude', label: 'Never these (optional)', type: 'textarea', rows: 2, placeholder: 'PostgreSQL.*\n0x0052e2c1', help: 'Globs of names (System V: the key as 0x%08x), one a line.' },
      { name: 'mode', label: 'Then', type: 'select', value: 'quarantine', options: [
        ['quarantine', 'quarantine them (restorable until purged after the TTL)'], ['delete', 'delete them at once']] },
    ],
    submitLabel: 'Dry run',
    onSubmit: async (v) => {
      if (phase === 'done') return undefined; // "Close"
      const body = order(v);
      if (phase === 'confirm' && JSON.stringify(body) === JSON.stringify(shown)) {
        const r = await api.reclaim({ ...body, dryRun: false });
        phase = 'done';
        showDone(r, body);
        changed();
        return false;
      }
      const r = await api.reclaim({ ...body, dryRun: true });
      shown = body;
      showDryRun(r, body);
      return false;
    },
  });
  ui.errorBox.before(results);
  ui.form.dataset.phase = phase;
  // A setting changed after the dry run: what was shown is no longer what would be done.
  ui.form.addEventListener('input', () => {
    if (phase !== 'confirm') return;
    setPhase('dry', 'Dry run again');
    replace(results, h('p', { class: 'muted' }, 'The settings changed: run the dry run again to see what they reclaim.'));
  });

  function setPhase(next, label, danger = false) {
    phase = next;
    ui.form.dataset.phase = next;
    ui.submit.textContent = label;
    ui.submit.className = danger ? 'danger' : 'primary';
  }

  function showDryRun(r, body) {
    const c = r.candidates || [];
    const bytes = c.reduce((n, x) => n + (x.bytes || 0), 0);
    const what = body.mode === 'delete' ? 'delete' : 'quarantine';
    replace(results,
      h('p', { dataset: { testid: 'reclaim-summary' } }, c.length
        ? `Dry run: ${c.length} ${c.length === 1 ? 'object' : 'objects'} (${formatBytes(bytes)}) would be reclaimed. Nothing was changed.`
        : 'Dry run: nothing to reclaim. Nothing was changed.'),
      c.length ? candidatesTable('reclaim-candidates', c) : null,
      skippedList(r.skipped),
      c.length && body.kinds.includes('sysv') && c.some((x) => x.kind === 'sysv')
        ? h('p', { class: 'note' }, 'System V segments are removed (IPC_RMID), not quarantined: that cannot be undone.') : null);
    if (c.length) setPhase('confirm', `Reclaim ${c.length} (${what})`, true);
    else setPhase('dry', 'Dry run again');
    ui.submit.focus();
  }

  function showDone(r) {
    const done = r.reclaimed || [];
    replace(results,
      h('p', { dataset: { testid: 'reclaim-summary' } },
        `Reclaimed ${done.length} ${done.length === 1 ? 'object' : 'objects'}, ${formatBytes(r.reclaimedBytes ?? 0)}.`),
      done.length ? candidatesTable('reclaim-reclaimed', done) : null,
      skippedList(r.skipped));
    setPhase('done', 'Close');
    ui.submit.focus();
  }
}

function confirmPurge(item) {
  openForm({
    title: `Purge ${item.name}?`,
    testid: 'purge-form',
    intro: `Its ${formatBytes(item.bytes)} are freed now instead of at ${new Date(item.purgeAt).toLocaleString()}; this cannot be undone.`,
    submitLabel: 'Purge',
    danger: true,
    onSubmit: async () => {
      await api.purgeQuarantined(item.id);
      changed();
    },
  });
}

async function restore(item) {
  try {
    await api.restoreQuarantined(item.id);
    changed();
  } catch (e) {
    showError(e, `Restore ${item.name}`);
  }
}

/** Renders the quarantine list; null: the server has no reclaim (the panel stays hidden). */
export function renderQuarantine(r) {
  const panel = $('quarantine');
  if (!r) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const why = hasToken() ? null : NO_TOKEN;
  const button = $('reclaim-button');
  button.disabled = !!why;
  button.title = why || 'Find orphaned objects (a dry run first) and reclaim them';
  const items = r.items || [];
  keepingFocus(panel, () => {
    $('quarantine-count').textContent = items.length
      ? `${items.length} · ${formatBytes(items.reduce((n, i) => n + (i.bytes || 0), 0))}` : '';
    replace($('quarantine-body'), items.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'compact', dataset: { testid: 'quarantine-table' } },
        h('caption', { class: 'visually-hidden' }, 'Objects in quarantine'),
        h('thead', {}, h('tr', {}, ['name', 'kind', 'mount', 'bytes', 'quarantined', 'purged', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, items.map((i) => h('tr', { dataset: { quarantine: i.id, name: i.name } },
          h('td', { class: 'cmd', title: i.name }, i.name), h('td', {}, i.kind), h('td', { class: 'mono' }, i.mount),
          h('td', { class: 'num', title: formatExactBytes(i.bytes) }, formatBytes(i.bytes)),
          h('td', { title: exactTime(i.quarantinedAt) }, formatAge(i.quarantinedAt)),
          h('td', { title: exactTime(i.purgeAt) }, formatAge(i.purgeAt)),
          h('td', { class: 'row-actions' },
            h('button', { type: 'button', class: 'small', disabled: !!why, title: why || `Put ${i.name} back under its name`,
              dataset: { testid: 'restore-button' }, onclick: () => restore(i) }, 'Restore'),
            h('button', { type: 'button', class: 'small danger', disabled: !!why, title: why || `Free ${i.name}'s memory now`,
              dataset: { testid: 'purge-button' }, onclick: () => confirmPurge(i) }, 'Purge…')))))))
      : h('p', { class: 'muted empty', dataset: { testid: 'quarantine-empty' } }, 'Nothing in quarantine.'));
  });
}
