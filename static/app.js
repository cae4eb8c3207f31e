// The dashboard's entry point: state, refresh scheduling, selection and wiring of the panels.
import { $ } from './dom.js';
import { api, takeTokenFromFragment, hasToken, ownSectionName } from './api.js';
import { renderOverview } from './overview.js';
import { renderMounts, knownMounts } from './mounts.js';
import {
  initSections, renderSections, renderInventory, renderMountFilter, inventoryQuery, scope, setScope,
} from './sections.js';
import { objectName } from './inventory.js';
import { renderDetail, renderHistory, sectionHref } from './detail.js';
import { renderObjectDetail } from './objectdetail.js';
import { renderHealth } from './health.js';
import { setHistory, historySince } from './sparkline.js';
import { openReclaim, renderQuarantine } from './reclaim.js';
import { PageMap } from './pagemap.js';
import { HexView } from './hexview.js';
import { openCreate } from './actions.js';
import { setOnChanged } from './actions-bus.js';
import { renderTokenButton, openTokenDialog } from './token.js';
import { startLive } from './live.js';
import { showError } from './errors.js';
import { createRefresher } from './refresh.js';

// `selected` is a section of the server's own directory (by name), `selectedHref` any other
// object of the host (by its href); at most one of them is set.
const state = {
  system: null, sections: [], total: 0, selected: null, selectedHref: null, detail: null, inventory: null,
};
let pagemap;
let hexview;
let detailSeq = 0; // the latest detail request wins

const BACKGROUND_MS = 10000; // mapper counts and orphan state change without events

async function loadSystem() {
  state.system = await api.system();
  renderOverview(state.system);
  // The mounts of the whole host (version 1.1); a server without them keeps the strip hidden.
  api.mounts().then((r) => {
    renderMounts(r.mounts);
    renderMountFilter(r.mounts);
  }, () => renderMounts(null));
  $('footer').textContent = `shm-admin ${state.system.version ?? ''} · kernel ${state.system.kernel ?? ''} · API: /openapi.json`;
}

/** The href the table highlights: the open object, or the open section's own href. */
const selectedHref = () => state.selectedHref || (state.selected ? sectionHref(state.selected) : null);

async function loadSections() {
  if (scope() === 'host') {
    const query = inventoryQuery();
    const r = await api.inventory(query);
    if (scope() !== 'host' || JSON.stringify(query) !== JSON.stringify(inventoryQuery())) return; // changed meanwhile
    state.inventory = r;
    renderInventory(r, selectedHref());
    return;
  }
  const r = await api.sections();
  state.sections = r.sections || [];
  state.total = r.total ?? state.sections.length;
  renderSections(state.sections, state.selected, state.total);
}

/** The doctor's findings; a server without the doctor hides the panel. */
async function loadHealth() {
  let r;
  try {
    r = await api.doctor();
  } catch (e) {
    if (e.status === 404) {
      renderHealth(null);
      return;
    }
    throw e;
  }
  renderHealth(r, openHref, hasToken() ? { reclaim: openReclaim } : {});
}

/** The quarantine list; a server without reclaim hides the panel. */
async function loadQuarantine() {
  let r;
  try {
    r = await api.quarantine();
  } catch (e) {
    if (e.status === 404) {
      renderQuarantine(null);
      return;
    }
    throw e;
  }
  renderQuarantine(r);
}

/** The last hour of history, drawn into the mounts strip, the inventory rows and the open detail. */
async function loadHistory() {
  let r;
  try {
    r = await api.history(historySince());
  } catch (e) {
    if (e.status === 404) return;
    throw e;
  }
  setHistory(r);
  renderMounts();
  if (scope() === 'host') renderInventory(null, selectedHref());
  if (state.detail && !$('detail').hidden) {
    renderHistory(selectedHref(), state.selected || objectName(state.detail));
  }
}

/** Opens what an href names: a section, another object, or a mount (the host's list, filtered to it). */
function openHref(href) {
  const own = ownSectionName(href);
  if (own !== null) {
    select(own);
    return;
  }
  const m = /^\/api\/v1\/mounts\/([^/]+)$/.exec(href);
  if (m) {
    const id = decodeURIComponent(m[1]);
    const known = knownMounts().find((x) => x.id === id || (id === 'host' && x.host));
    setScope('host', { mount: known ? known.id : id });
    $('sections-title').focus({ preventScroll: true });
    $('sections').scrollIntoView({ behavior: 'instant', block: 'start' });
    return;
  }
  selectObject(href);
}

async function loadObjectDetail({ hex = true } = {}) {
  const href = state.selectedHref;
  const seq = ++detailSeq;
  let o;
  try {
    o = await api.object(href);
  } catch (e) {
    if (seq !== detailSeq || href !== state.selectedHref) return;
    if (e.status === 404) {
      select(null);
      return;
    }
    throw e;
  }
  if (seq !== detailSeq || href !== state.selectedHref) return;
  state.detail = o;
  renderObjectDetail(o, {
    deleted: () => {
      if (state.selectedHref === href) select(null);
      schedule({ list: true, health: true });
    },
  });
  if (o.kind === 'shm' && /^\/api\/v1\/mounts\//.test(href)) await pagemap.show(null, href);
  else pagemap.clear(o.kind === 'semaphore' ? 'A semaphore has no pages to show.' : `The API keeps no page map of ${o.kind} objects.`);
  if (hex) await hexview.show(o, href);
}

async function loadDetail({ hex = true } = {}) {
  if (state.selectedHref) {
    await loadObjectDetail({ hex });
    return;
  }
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

const refresher = createRefresher(
  ['list', 'detail', 'hex', 'health', 'history', 'quarantine'],
  (p) => [
    ...(p.list ? [loadSections(), loadSystem()] : []),
    ...(p.detail || p.hex ? [loadDetail({ hex: p.hex })] : []),
    ...(p.health ? [loadHealth()] : []),
    ...(p.history ? [loadHistory()] : []),
    ...(p.quarantine ? [loadQuarantine()] : []),
  ],
  (err) => showError(err, 'Refresh'));
const schedule = refresher.schedule;
const reportOnce = refresher.reportOnce;

function refreshAll() {
  schedule({ list: true, detail: true, hex: true, health: true, history: true, quarantine: true });
}

const HEX_EVENTS = new Set(['written', 'reset', 'grown', 'modified', 'rescan', 'created', 'adopted']);

function onEvent(ev) {
  document.body.dataset.lastEvent = `${ev.type}:${ev.section ?? ''}`;
  if (ev.type === 'finding') {
    document.body.dataset.findingEvents = String(Number(document.body.dataset.findingEvents || 0) + 1);
    schedule({ health: true });
    return;
  }
  if (ev.type === 'mount-added' || ev.type === 'mount-removed') {
    schedule({ list: true, health: true });
    return;
  }
  if (ev.type === 'quarantined' || ev.type === 'restored' || ev.type === 'purged') {
    schedule({ list: true, quarantine: true, health: true, detail: true });
    return;
  }
  if (ev.type === 'deleted-while-mapped') {
    schedule({ list: true, health: true, detail: !!state.selectedHref });
    return;
  }
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
  state.selectedHref = null;
  showSelection(name ? `#section=${encodeURIComponent(name)}` : '');
}

/** Selects another object of the host by its href (a section of the server's directory by name). */
function selectObject(href) {
  const own = ownSectionName(href);
  if (own !== null) {
    select(own);
    return;
  }
  state.selected = null;
  state.selectedHref = href;
  showSelection(`#object=${encodeURIComponent(href)}`);
}

function showSelection(frag) {
  state.detail = null;
  if (location.hash !== frag) history.pushState(null, '', location.pathname + location.search + frag);
  if (scope() === 'host') renderInventory(null, selectedHref());
  else renderSections(state.sections, state.selected, state.total);
  if (!state.selected && !state.selectedHref) {
    renderDetail(null);
    return;
  }
  loadDetail().then(() => {
    const title = $('detail-title');
    if (document.activeElement === document.body || document.activeElement?.closest('#sections-table, #health, dialog')) {
      title.focus({ preventScroll: true });
    }
    $('detail').scrollIntoView({ behavior: 'instant', block: 'start' });
  }).catch((e) => reportOnce(e));
}

function fromFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  return { name: params.get('section'), href: params.get('object') };
}

function init() {
  const fromLink = takeTokenFromFragment();
  pagemap = new PageMap($('pagemap-host'));
  hexview = new HexView($('hex-host'));
  initSections((name) => select(name), (href) => selectObject(href), () => schedule({ list: true }));
  renderTokenButton();
  $('token-button').addEventListener('click', () => openTokenDialog(refreshAll));
  $('create-button').addEventListener('click', openCreate);
  $('detail-close').addEventListener('click', () => {
    const href = selectedHref();
    const name = state.selected;
    select(null);
    (document.querySelector(`tr[data-section="${CSS.escape(name || '')}"] button.link`)
      || document.querySelector(`tr[data-href="${CSS.escape(href || '')}"] button.link`))?.focus();
  });
  $('reclaim-button').addEventListener('click', () => openReclaim());
  setOnChanged((name, info = {}) => {
    if (info.reclaim) {
      schedule({ list: true, quarantine: true, health: true, detail: true });
      return;
    }
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
    const { name, href } = fromFragment();
    if (href && href !== state.selectedHref) selectObject(href);
    else if (!href && name !== state.selected) select(name);
  });
  document.addEventListener('keydown', (e) => {
    if ($('dialog').open || e.target.closest('input, textarea, select')) return;
    if (e.key === '/') {
      e.preventDefault();
      $('filter-q').focus();
    } else if (e.key === 'Escape' && (state.selected || state.selectedHref)) {
      select(null);
    }
  });
  const linkedObject = fromFragment().href;
  Promise.allSettled([loadSystem(), loadSections(), loadHealth(), loadHistory(), loadQuarantine()]).then((r) => {
    const failed = r.find((x) => x.status === 'rejected');
    if (failed) reportOnce(failed.reason);
    if (fromLink) select(fromLink);
    else if (linkedObject) selectObject(linkedObject);
  });
  startLive({
    onEvent,
    onResync: refreshAll,
    poll: async () => {
      await Promise.all([loadSections(), loadSystem(), loadHealth(), loadQuarantine()]);
      if (state.selected || state.selectedHref) await loadDetail({ hex: true });
    },
  });
  setInterval(() => {
    if (document.visibilityState === 'visible') {
      // History gains a sample every 10 s; the doctor reruns as often (its events cover changes).
      schedule({
        list: true, detail: !!(state.selected || state.selectedHref), history: true, health: true, quarantine: true,
      });
    }
  }, BACKGROUND_MS);
  document.body.dataset.ready = 'true';
}

init();
