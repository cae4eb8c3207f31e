// The dashboard's entry point: state, refresh scheduling, selection and wiring of the panels.
import { $ } from './dom.js';
import { api, takeTokenFromFragment, hasToken, setToken, getToken } from './api.js';
import { renderOverview } from './overview.js';
import { renderMounts } from './mounts.js';
import { initSections, renderSections } from './sections.js';
import { renderDetail } from './detail.js';
import { PageMap } from './pagemap.js';
import { HexView } from './hexview.js';
import { openCreate, reason } from './actions.js';
import { setOnChanged } from './actions-bus.js';
import { openForm } from './dialogs.js';
import { startLive } from './live.js';
import { showError } from './errors.js';

const state = { system: null, sections: [], total: 0, selected: null, detail: null };
let pagemap;
let hexview;
let detailSeq = 0; // the latest detail request wins

const DEBOUNCE_MS = 250;
const BACKGROUND_MS = 10000; // mapper counts and orphan state change without events

async function loadSystem() {
  state.system = await api.system();
  renderOverview(state.system);
  // The mounts of the whole host (version 1.1); a server without them keeps the strip hidden.
  api.mounts().then((r) => renderMounts(r.mounts), () => renderMounts(null));
  $('footer').textContent = `shm-admin ${state.system.version ?? ''} · kernel ${state.system.kernel ?? ''} · API: /openapi.json`;
}

async function loadSections() {
  const r = await api.sections();
  state.sections = r.sections || [];
  state.total = r.total ?? state.sections.length;
  renderSections(state.sections, state.selected, state.total);
}

async function loadDetail({ hex = true } = {}) {
  const name = state.selected;
  if (!name) {
    renderDetail(null);
    return;
  }
  const seq = ++detailSeq;
  let d;
  try {
    d = await api.section(name);
  } catch (e) {
    if (seq !== detailSeq || name !== state.selected) return;
    if (e.status === 404) {
      select(null);
      return;
    }
    throw e;
  }
  if (seq !== detailSeq || name !== state.selected) return;
  state.detail = d;
  renderDetail(d, { pageSize: state.system?.pageSize || 4096 });
  if (d.kind === 'semaphore') pagemap.clear('A semaphore has no pages to show.');
  else await pagemap.show(name);
  if (hex) await hexview.show(d);
}

// Refresh scheduling: events mark what is stale; one flush at a time fetches it. The first
// event of a burst starts the timer and later ones never push it back, so a steady stream of
// events (a busy host) still refreshes; a slow refresh spaces the next one out.
const pending = { list: false, detail: false, hex: false };
let timer = null;
let flushing = false;
let lastFlushMs = 0;
let lastErrorKey = '';

function schedule(what) {
  for (const k of Object.keys(pending)) pending[k] = pending[k] || !!what[k];
  if (!timer && !flushing) timer = setTimeout(flush, Math.max(DEBOUNCE_MS, 2 * lastFlushMs));
}

async function flush() {
  timer = null;
  flushing = true;
  const started = performance.now();
  const p = { ...pending };
  pending.list = pending.detail = pending.hex = false;
  const jobs = [];
  if (p.list) jobs.push(loadSections(), loadSystem());
  if (p.detail || p.hex) jobs.push(loadDetail({ hex: p.hex }));
  const results = await Promise.allSettled(jobs);
  flushing = false;
  lastFlushMs = Math.min(5000, performance.now() - started);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) reportOnce(failed.reason);
  else lastErrorKey = ''; // recovered: the same error may be reported again later
  if (pending.list || pending.detail || pending.hex) schedule({});
}

function reportOnce(err) {
  const key = `${err.status}|${err.title}|${err.detail}`;
  if (key !== lastErrorKey) showError(err, 'Refresh');
  lastErrorKey = key;
}

function refreshAll() {
  schedule({ list: true, detail: true, hex: true });
}

const HEX_EVENTS = new Set(['written', 'reset', 'grown', 'modified', 'rescan', 'created', 'adopted']);

function onEvent(ev) {
  document.body.dataset.lastEvent = `${ev.type}:${ev.section ?? ''}`;
  if (ev.type === 'rescan' || ev.section == null) {
    refreshAll();
    return;
  }
  const mine = ev.section === state.selected;
  schedule({ list: true, detail: mine, hex: mine && HEX_EVENTS.has(ev.type) });
}

/** Selects a section (or none) and reflects it in the address bar's fragment. */
function select(name) {
  state.selected = name;
  state.detail = null;
  const frag = name ? `#section=${encodeURIComponent(name)}` : '';
  if (location.hash !== frag) history.pushState(null, '', location.pathname + location.search + frag);
  renderSections(state.sections, name, state.total);
  if (!name) {
    renderDetail(null);
    return;
  }
  loadDetail().then(() => {
    const title = $('detail-title');
    if (document.activeElement === document.body || document.activeElement?.closest('#sections-table, dialog')) {
      title.focus({ preventScroll: true });
    }
    $('detail').scrollIntoView({ behavior: 'instant', block: 'start' });
  }).catch((e) => reportOnce(e));
}

function fromFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  return params.get('section');
}

function renderTokenButton() {
  const b = $('token-button');
  const admin = hasToken();
  b.dataset.state = admin ? 'admin' : 'readonly';
  b.textContent = admin ? 'admin token' : 'read-only';
  b.title = admin ? 'Admin token set for this tab. Click to change or forget it.'
    : 'No admin token: actions are disabled. Click to enter the token.';
  const create = $('create-button');
  const why = reason('create');
  create.disabled = !!why;
  create.title = why || 'Create a section';
}

function openTokenDialog() {
  openForm({
    title: 'Admin token',
    intro: 'The token is printed by shm-admin at start (in the dashboard link) and stored in STATE_DIR/admin-token. It is kept in this tab only.',
    fields: [{ name: 'token', label: 'Token', value: getToken(), placeholder: '64 hex characters; empty for read-only' }],
    submitLabel: 'Save',
    onSubmit: (v) => {
      setToken(v.token.trim());
      renderTokenButton();
      refreshAll();
    },
  });
}

function init() {
  const fromLink = takeTokenFromFragment();
  pagemap = new PageMap($('pagemap-host'));
  hexview = new HexView($('hex-host'));
  initSections((name) => select(name));
  renderTokenButton();
  $('token-button').addEventListener('click', openTokenDialog);
  $('create-button').addEventListener('click', openCreate);
  $('detail-close').addEventListener('click', () => {
    const name = state.selected;
    select(null);
    document.querySelector(`tr[data-section="${CSS.escape(name || '')}"] button.link`)?.focus();
  });
  setOnChanged((name, info = {}) => {
    if (info.deleted && name === state.selected) select(null);
    else if (info.select && name) select(name);
    schedule({ list: true, detail: name === state.selected, hex: name === state.selected });
  });
  window.addEventListener('hashchange', () => {
    // A dashboard link pasted into this tab: take its token too.
    if (new URLSearchParams(location.hash.replace(/^#/, '')).has('token')) {
      takeTokenFromFragment();
      renderTokenButton();
      refreshAll();
    }
  });
  window.addEventListener('popstate', () => {
    const name = fromFragment();
    if (name !== state.selected) select(name);
  });
  document.addEventListener('keydown', (e) => {
    if ($('dialog').open || e.target.closest('input, textarea, select')) return;
    if (e.key === '/') {
      e.preventDefault();
      $('filter-q').focus();
    } else if (e.key === 'Escape' && state.selected) {
      select(null);
    }
  });
  Promise.allSettled([loadSystem(), loadSections()]).then((r) => {
    const failed = r.find((x) => x.status === 'rejected');
    if (failed) reportOnce(failed.reason);
    if (fromLink) select(fromLink);
  });
  startLive({
    onEvent,
    onResync: refreshAll,
    poll: async () => {
      await Promise.all([loadSections(), loadSystem()]);
      if (state.selected) await loadDetail({ hex: true });
    },
  });
  setInterval(() => {
    if (document.visibilityState === 'visible') schedule({ list: true, detail: !!state.selected });
  }, BACKGROUND_MS);
  document.body.dataset.ready = 'true';
}

init();
