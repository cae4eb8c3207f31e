// Page map: data / committed / reserved runs over [0, reserve) on a zoomable canvas.
import { h, replace } from './dom.js';
import { formatBytes, formatExactBytes, hex } from './format.js';
import { api } from './api.js';
import { drawPageMap, findRun, ROWS, ROW_H, GAP, STATES } from './pagemap-draw.js';

const MAX_RUNS = 4096;

export class PageMap {
  constructor(host) {
    this.name = null;
    this.pages = null; // last full answer
    this.windowPages = null; // answer for the zoomed window when the full one was truncated
    this.start = 0;
    this.span = 0;
    this.canvas = h('canvas', {
      class: 'pm-canvas', tabindex: 0, role: 'img', dataset: { testid: 'pagemap' },
      'aria-label': 'Page map', 'aria-describedby': 'pagemap-help',
    });
    this.tooltip = h('div', { class: 'pm-tooltip', role: 'tooltip', dataset: { testid: 'pagemap-tooltip' }, hidden: true });
    this.windowLabel = h('span', { class: 'pm-window muted', dataset: { testid: 'pagemap-window' } });
    this.slider = h('input', {
      type: 'range', min: 0, max: 1000, value: 0, class: 'pm-slider', 'aria-label': 'Page map position', disabled: true,
      oninput: () => this.panTo(Number(this.slider.value) / 1000),
    });
    this.legend = h('div', { class: 'pm-legend', dataset: { testid: 'pagemap-legend' }, 'aria-live': 'polite' });
    this.note = h('p', { class: 'note', hidden: true });
    this.runsTable = h('div', { class: 'pm-runs' });
    const btn = (label, title, fn, testid) =>
      h('button', { type: 'button', class: 'small', title, 'aria-label': title, onclick: fn, dataset: { testid } }, label);
    this.root = h('div', { class: 'pagemap', dataset: { testid: 'pagemap-panel' } },
      h('div', { class: 'pm-toolbar' },
        btn('−', 'Zoom out', () => this.zoom(2), 'pagemap-zoom-out'),
        btn('+', 'Zoom in', () => this.zoom(0.5), 'pagemap-zoom-in'),
        btn('⤢', 'Show the whole reserve', () => this.reset(), 'pagemap-zoom-reset'),
        btn('▤', 'Fit the commit', () => this.fitCommit(), 'pagemap-zoom-commit'),
        this.slider, this.windowLabel),
      h('div', { class: 'pm-wrap' }, this.canvas, this.tooltip),
      h('p', { id: 'pagemap-help', class: 'visually-hidden' },
        'Keys: plus and minus zoom, arrows move, 0 shows the whole reserve; with the map focused the wheel zooms. ' +
        'Hover for offset, length and state.'),
      this.legend, this.note,
      h('details', { class: 'pm-details' }, h('summary', {}, 'Runs as a table'), this.runsTable));
    replace(host, this.root);

    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => { this.tooltip.hidden = true; });
    this.canvas.addEventListener('wheel', (e) => {
      // The wheel zooms only once the map has focus (or with Ctrl), so it never traps page scrolling.
      if (!this.pages || (document.activeElement !== this.canvas && !e.ctrlKey)) return;
      if (Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
        e.preventDefault();
        this.pan(Math.sign(e.deltaX) * 0.1);
      } else if (e.deltaY !== 0) {
        e.preventDefault();
        this.zoom(e.deltaY < 0 ? 0.5 : 2, this.offsetAt(e));
      }
    }, { passive: false });
    this.canvas.addEventListener('keydown', (e) => this.key(e));
    new ResizeObserver(() => this.draw()).observe(this.root);
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.draw());
  }

  get reserve() {
    return this.pages ? Math.max(this.pages.reserve ?? 0, this.pages.commit ?? 0) : 0;
  }

  /**
   * Shows a section; keeps the zoom when it is the same section as before. `href`: another mount's
   * object, whose page map is `${href}/pages` (API-HOST.md).
   */
  async show(name, href = null) {
    const key = href || name;
    this.fetchPages = href ? (q) => api.objectPages(href, q) : (q) => api.pages(name, q);
    if (key !== this.name) {
      this.name = key;
      this.pages = null;
      this.windowPages = null;
      this.span = 0;
      this.start = 0;
    }
    await this.reload();
  }

  clear(message) {
    this.name = null;
    this.pages = null;
    this.windowPages = null;
    this.legend.textContent = message || '';
    this.canvas.dataset.runs = '0';
    this.draw();
  }

  async reload() {
    const name = this.name;
    if (!name) return;
    const seq = (this.seq = (this.seq || 0) + 1);
    try {
      const pages = await this.fetchPages({ maxRuns: MAX_RUNS });
      if (seq !== this.seq || name !== this.name) return;
      this.pages = pages;
      if (!this.span || this.start + this.span > this.reserve) {
        this.span = this.reserve;
        this.start = 0;
      }
      this.windowPages = null;
      this.note.hidden = true;
      this.render();
      this.maybeFetchWindow();
    } catch (e) {
      if (seq !== this.seq || name !== this.name) return;
      this.pages = null;
      this.legend.textContent = '';
      this.note.hidden = false;
      this.note.textContent = `Page map unavailable: ${e.title}${e.detail ? ` — ${e.detail}` : ''}`;
      this.draw();
    }
  }

  runs() {
    const w = this.windowPages;
    if (w && w.from === this.start && w.to === this.start + this.span) return w.pages.runs;
    return this.pages?.runs || [];
  }

  maybeFetchWindow() {
    clearTimeout(this.windowTimer);
    if (!this.pages?.truncated || this.span >= this.reserve) return;
    const page = this.pages.pageSize || 4096;
    const from = Math.floor(this.start / page) * page;
    const to = Math.min(this.reserve, Math.ceil((this.start + this.span) / page) * page);
    this.windowTimer = setTimeout(async () => {
      try {
        const name = this.name;
        const pages = await this.fetchPages({ from, to, maxRuns: MAX_RUNS });
        if (name !== this.name) return;
        this.windowPages = { from: this.start, to: this.start + this.span, pages };
        this.draw();
      } catch { /* keep the coarse map */ }
    }, 200);
  }

  minSpan() {
    return Math.min(this.reserve, (this.pages?.pageSize || 4096) * 8);
  }

  zoom(factor, around) {
    if (!this.pages || !this.reserve) return;
    const center = around ?? this.start + this.span / 2;
    const span = Math.max(this.minSpan(), Math.min(this.reserve, this.span * factor));
    const rel = this.span ? (center - this.start) / this.span : 0.5;
    this.span = span;
    this.start = Math.round(Math.max(0, Math.min(this.reserve - span, center - rel * span)));
    this.render();
    this.maybeFetchWindow();
  }

  fitCommit() {
    if (!this.pages) return;
    this.start = 0;
    this.span = Math.max(this.minSpan(), Math.min(this.reserve, this.pages.commit || this.reserve));
    this.render();
    this.maybeFetchWindow();
  }

  reset() {
    this.start = 0;
    this.span = this.reserve;
    this.render();
  }

  panTo(fraction) {
    this.start = Math.round(Math.max(0, Math.min(this.reserve - this.span, fraction * (this.reserve - this.span))));
    this.draw();
    this.updateWindowLabel();
    this.maybeFetchWindow();
  }

  key(e) {
    const keys = {
      '+': () => this.zoom(0.5), '=': () => this.zoom(0.5), '-': () => this.zoom(2), '0': () => this.reset(),
      ArrowRight: () => this.pan(0.25), ArrowLeft: () => this.pan(-0.25),
      Home: () => this.panTo(0), End: () => this.panTo(1),
    };
    const fn = keys[e.key];
    if (fn) {
      e.preventDefault();
      fn();
    }
  }

  pan(share) {
    const room = this.reserve - this.span;
    if (room <= 0) return;
    this.panTo(Math.max(0, Math.min(room, this.start + share * this.span)) / room);
  }

  /** Byte offset under the pointer. */
  offsetAt(e) {
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    const row = Math.max(0, Math.min(ROWS - 1, Math.floor(y / (ROW_H + GAP))));
    const frac = (row * rect.width + Math.max(0, Math.min(rect.width - 0.001, x))) / (ROWS * rect.width);
    return Math.floor(this.start + frac * this.span);
  }

  hover(e) {
    if (!this.pages || !this.span) return;
    const off = this.offsetAt(e);
    const run = findRun(this.runs(), off) || this.syntheticRun(off);
    const page = this.pages.pageSize || 4096;
    if (!run) {
      replace(this.tooltip, h('div', {}, `pointer at ${hex(off)}, page ${Math.floor(off / page)}`),
        h('div', { class: 'muted' }, `more than ${MAX_RUNS} runs: zoom in to see this part`));
      delete this.tooltip.dataset.state;
    } else {
      replace(this.tooltip,
        h('strong', { class: `state-${run.state}` }, run.state),
        h('div', {}, `offset ${hex(run.offset)} (${formatBytes(run.offset)})`),
        h('div', {}, `length ${formatBytes(run.length)} (${formatExactBytes(run.length)})`),
        h('div', { class: 'muted' }, `pointer at ${hex(off)}, page ${Math.floor(off / page)}`));
      this.tooltip.dataset.state = run.state;
      this.tooltip.dataset.offset = String(run.offset);
      this.tooltip.dataset.length = String(run.length);
    }
    this.tooltip.hidden = false;
    const wrap = this.canvas.parentElement.getBoundingClientRect();
    const x = e.clientX - wrap.left;
    const left = Math.min(x + 14, wrap.width - this.tooltip.offsetWidth - 4);
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${e.clientY - wrap.top + 14}px`;
  }

  /** Past the last run the answer may be truncated; infer the state from commit. */
  syntheticRun(off) {
    if (!this.pages || off >= this.reserve) return null;
    const commit = this.pages.commit ?? 0;
    return off < commit ? null : { offset: commit, length: this.reserve - commit, state: 'reserved' };
  }

  render() {
    const p = this.pages;
    if (!p) return this.draw();
    const dataB = p.dataBytes ?? 0;
    const commit = p.commit ?? 0;
    const committedB = Math.max(0, commit - dataB);
    const reservedB = Math.max(0, this.reserve - commit);
    const counts = { data: 0, committed: 0, reserved: 0 };
    for (const r of p.runs || []) counts[r.state] = (counts[r.state] || 0) + 1;
    const item = (state, bytes) => h('span', { class: 'pm-legend-item', dataset: { state }, title: formatExactBytes(bytes) },
      h('span', { class: `swatch state-${state}`, 'aria-hidden': 'true' }), `${state} ${formatBytes(bytes)}`);
    replace(this.legend,
      item('data', dataB), item('committed', committedB), item('reserved', reservedB),
      h('span', { class: 'muted' },
        `${(p.runs || []).length}${p.truncated ? '+' : ''} runs · commit ${formatBytes(commit)} of ${formatBytes(this.reserve)} · `,
        `allocated ${formatBytes(p.allocatedBytes)} · page ${formatBytes(p.pageSize)}`));
    Object.assign(this.canvas.dataset, {
      runs: String((p.runs || []).length),
      states: STATES.map((s) => `${s}=${counts[s] || 0}`).join(' '),
      commit: String(commit), reserve: String(this.reserve), dataBytes: String(dataB),
      truncated: String(!!p.truncated),
    });
    this.canvas.setAttribute('aria-label',
      `Page map of ${this.name}: ${formatBytes(dataB)} data, ${formatBytes(committedB)} committed zeros, ` +
      `${formatBytes(reservedB)} reserved, in ${(p.runs || []).length} runs`);
    if (p.truncated) {
      this.note.hidden = false;
      this.note.textContent = `More than ${MAX_RUNS} runs: zoom in to see the exact runs of a window.`;
    }
    this.renderRunsTable(p.runs || []);
    this.updateWindowLabel();
    this.draw();
  }

  renderRunsTable(runs) {
    const shown = runs.slice(0, 200);
    replace(this.runsTable, h('table', { class: 'compact' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'offset'), h('th', { scope: 'col' }, 'length'), h('th', { scope: 'col' }, 'state'))),
      h('tbody', {}, shown.map((r) => h('tr', { dataset: { state: r.state } },
        h('td', { class: 'mono' }, hex(r.offset)), h('td', { title: formatExactBytes(r.length) }, formatBytes(r.length)),
        h('td', {}, h('span', { class: `swatch state-${r.state}`, 'aria-hidden': 'true' }), r.state))))),
    runs.length > shown.length ? h('p', { class: 'muted' }, `first ${shown.length} of ${runs.length} runs`) : null);
  }

  updateWindowLabel() {
    const whole = this.span >= this.reserve;
    this.windowLabel.textContent = this.reserve
      ? `${hex(this.start)} – ${hex(this.start + this.span)}${whole ? ' (whole reserve)' : ` (${formatBytes(this.span)} window)`}`
      : '';
    this.slider.disabled = whole;
    const room = this.reserve - this.span;
    this.slider.value = String(room > 0 ? Math.round((this.start / room) * 1000) : 0);
    this.canvas.dataset.windowStart = String(this.start);
    this.canvas.dataset.windowSpan = String(this.span);
  }

  draw() {
    drawPageMap(this.canvas, this.pages && this.span ? {
      start: this.start, span: this.span, runs: this.runs(),
      commit: this.pages.commit ?? 0, pageSize: this.pages.pageSize || 4096,
    } : null);
  }
}
