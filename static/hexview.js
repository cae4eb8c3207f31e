// Hex viewer: offset column, hex, ASCII; paging and "go to offset", read through the dump API.
import { h, replace } from './dom.js';
import { formatBytes, hex, parseSize } from './format.js';
import { api, hasToken } from './api.js';

const PAGE_SIZES = [256, 512, 1024, 4096];
const NARROW_PX = 520;

export class HexView {
  constructor(host) {
    this.name = null;
    this.seq = 0;
    this.commit = 0;
    this.offset = 0;
    this.pageBytes = 512;
    this.status = h('span', { class: 'muted hex-status', dataset: { testid: 'hex-status' }, 'aria-live': 'polite' });
    this.body = h('div', { class: 'hex-body' });
    this.gotoInput = h('input', {
      type: 'text', id: 'hex-goto', size: 12, placeholder: '0x1000 or 4KiB', autocomplete: 'off',
      dataset: { testid: 'hex-goto' },
    });
    this.pageSelect = h('select', {
      id: 'hex-page-size', dataset: { testid: 'hex-page-size' },
      onchange: () => { this.pageBytes = Number(this.pageSelect.value); this.go(this.offset); },
    }, PAGE_SIZES.map((n) => h('option', { value: n, selected: n === this.pageBytes }, formatBytes(n))));
    const nav = (label, title, fn, testid) =>
      h('button', { type: 'button', class: 'small', title, 'aria-label': title, onclick: fn, dataset: { testid } }, label);
    this.buttons = [
      nav('⇤', 'First page', () => this.go(0), 'hex-first'),
      nav('←', 'Previous page', () => this.go(this.offset - this.pageBytes), 'hex-prev'),
      nav('→', 'Next page', () => this.go(this.offset + this.pageBytes), 'hex-next'),
      nav('⇥', 'Last page', () => this.go(this.lastPageOffset()), 'hex-last'),
    ];
    this.form = h('form', {
      class: 'hex-goto',
      onsubmit: (e) => {
        e.preventDefault();
        const off = parseSize(this.gotoInput.value);
        if (off === null) {
          this.status.textContent = `“${this.gotoInput.value}” is not an offset (try 4096, 0x1000 or 4KiB)`;
          return;
        }
        this.go(Math.floor(off / 16) * 16, off);
      },
    },
    h('label', { for: 'hex-goto' }, 'Go to offset'), this.gotoInput,
    h('button', { type: 'submit', class: 'small', dataset: { testid: 'hex-goto-button' } }, 'Go'));
    this.root = h('div', { class: 'hexview', dataset: { testid: 'hexview' } },
      h('div', { class: 'hex-toolbar' }, this.buttons,
        h('label', {}, 'Page ', this.pageSelect), this.form, this.status),
      this.body);
    replace(host, this.root);
    new ResizeObserver(() => {
      const perRow = this.body.clientWidth < NARROW_PX ? 8 : 16;
      if (this.lastDump && this.perRow && perRow !== this.perRow && this.root.dataset.state === 'ok') {
        this.render(this.lastDump, this.lastHighlight);
      }
    }).observe(this.body);
    this.root.addEventListener('keydown', (e) => {
      if (e.target.closest('input, select')) return;
      if (e.key === 'PageDown') { e.preventDefault(); this.go(this.offset + this.pageBytes); }
      if (e.key === 'PageUp') { e.preventDefault(); this.go(this.offset - this.pageBytes); }
    });
  }

  lastPageOffset() {
    return Math.max(0, Math.floor((this.commit - 1) / this.pageBytes) * this.pageBytes);
  }

  /**
   * Shows a section (keeps the offset when it is the same one). `href`: another kind of object,
   * read through `${href}/data` (API-HOST.md), whose length is its `size`.
   */
  show(section, href = null) {
    const key = href || section.name;
    if (key !== this.name) {
      this.name = key;
      this.offset = 0;
    }
    this.href = href;
    this.commit = (href ? section.size : section.commit) ?? 0;
    this.section = section;
    return this.go(this.offset);
  }

  /** Why bytes cannot be shown, or null. */
  unavailable() {
    const s = this.section;
    if (!hasToken()) return 'Reading bytes needs the admin token (section data is admin-level).';
    if (s.kind === 'semaphore') return 'A semaphore has no bytes to show here.';
    if (s.state === 'missing') return 'The object is missing from /dev/shm: nothing to read.';
    if (!this.commit) {
      return this.href ? 'It has no bytes to read (size 0).' : 'Nothing committed yet: the section has no bytes to read.';
    }
    return null;
  }

  setControls(enabled) {
    for (const b of this.buttons) b.disabled = !enabled;
    this.gotoInput.disabled = !enabled;
    this.pageSelect.disabled = !enabled;
    this.form.querySelector('button').disabled = !enabled;
  }

  async go(offset, highlight) {
    if (!this.name) return;
    const why = this.unavailable();
    if (why) {
      ++this.seq;
      this.setControls(false);
      this.status.textContent = '';
      this.root.dataset.offset = '0';
      this.root.dataset.state = 'unavailable';
      replace(this.body, h('p', { class: 'note', dataset: { testid: 'hex-unavailable' } }, why));
      return;
    }
    this.setControls(true);
    offset = Math.max(0, Math.min(this.lastPageOffset(), Math.floor(offset / 16) * 16));
    const length = Math.min(this.pageBytes, this.commit - offset);
    const name = this.name;
    // The latest request wins: a live reload must not undo a "go to" still in flight.
    this.offset = offset;
    const seq = ++this.seq;
    this.root.dataset.state = 'loading';
    try {
      const dump = this.href
        ? await api.objectDumpHex(this.href, offset, length) : await api.dumpHex(name, offset, length);
      if (seq !== this.seq) return;
      this.render(dump, highlight);
    } catch (e) {
      if (seq !== this.seq) return;
      this.root.dataset.state = 'error';
      replace(this.body, h('p', { class: 'problem' }, h('strong', {}, e.title), e.detail ? ` — ${e.detail}` : ''));
    }
  }

  reload() {
    return this.name ? this.go(this.offset) : undefined;
  }

  render(dump, highlight) {
    this.lastDump = dump;
    this.lastHighlight = highlight;
    // Narrow windows get rows of 8 bytes (the API's 16-byte rows split in two).
    const perRow = this.body.clientWidth && this.body.clientWidth < NARROW_PX ? 8 : 16;
    this.perRow = perRow;
    const rows = [];
    for (const r of dump.rows || []) {
      const bytes = r.hex.split(' ').filter(Boolean);
      for (let i = 0; i < bytes.length; i += perRow) {
        rows.push({ offset: r.offset + i, bytes: bytes.slice(i, i + perRow), ascii: r.ascii.slice(i, i + perRow) });
      }
    }
    const width = Math.max(8, (this.commit - 1).toString(16).length);
    const end = this.offset + rows.reduce((n, r) => n + r.bytes.length, 0);
    this.root.dataset.offset = String(this.offset);
    this.root.dataset.state = 'ok';
    this.status.textContent = `${hex(this.offset)} – ${hex(end)} of ${formatBytes(this.commit)}${this.href ? '' : ' committed'}`;
    this.buttons[0].disabled = this.buttons[1].disabled = this.offset === 0;
    this.buttons[2].disabled = this.buttons[3].disabled = end >= this.commit;
    const table = h('table', { class: 'hex', dataset: { testid: 'hex-table' } },
      h('caption', { class: 'visually-hidden' }, `Bytes ${hex(this.offset)} to ${hex(end)}`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'offset'), h('th', { scope: 'col' }, 'hex'), h('th', { scope: 'col' }, 'ASCII'))),
      h('tbody', {}, rows.map((r) => {
        const hit = highlight !== undefined && highlight >= r.offset && highlight < r.offset + r.bytes.length;
        const hexText = r.bytes.slice(0, 8).join(' ') + (r.bytes.length > 8 ? '  ' + r.bytes.slice(8).join(' ') : '');
        return h('tr', { dataset: { offset: String(r.offset) }, class: hit ? 'hit' : '' },
          h('td', { class: 'hex-off' }, r.offset.toString(16).padStart(width, '0')),
          h('td', { class: 'hex-bytes' }, hexText),
          h('td', { class: 'hex-ascii' }, r.ascii));
      })));
    replace(this.body, table);
  }
}
