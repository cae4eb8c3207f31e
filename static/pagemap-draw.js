// Drawing of the page map: runs over a window of the reserve, wrapped over a few rows.

export const ROWS = 6; // the strip wraps over this many rows for resolution
export const ROW_H = 16;
export const GAP = 3;
export const STATES = ['data', 'committed', 'reserved'];
// Data last, so a run widened to one pixel is not painted over by its neighbours.
const DRAW_ORDER = ['reserved', 'committed', 'data'];

/**
 * Draws view = {start, span, runs, commit, pageSize} (or nothing but the empty strip when view
 * is null) at the canvas's CSS width; colours come from the page's CSS variables.
 */
export function drawPageMap(canvas, view) {
  const c = canvas;
  const cssW = Math.max(100, Math.floor(c.parentElement?.clientWidth || 600));
  const cssH = ROWS * (ROW_H + GAP) - GAP;
  const dpr = window.devicePixelRatio || 1;
  if (c.width !== Math.round(cssW * dpr) || c.height !== Math.round(cssH * dpr)) {
    c.width = Math.round(cssW * dpr);
    c.height = Math.round(cssH * dpr);
    c.style.width = `${cssW}px`;
    c.style.height = `${cssH}px`;
  }
  const ctx = c.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const css = getComputedStyle(c);
  const color = (v) => css.getPropertyValue(v).trim() || '#888';
  const colors = { data: color('--pm-data'), committed: color('--pm-committed'), reserved: color('--pm-reserved') };
  ctx.fillStyle = color('--pm-empty');
  for (let r = 0; r < ROWS; r++) ctx.fillRect(0, r * (ROW_H + GAP), cssW, ROW_H);
  if (!view) return;
  const { start, span, runs, commit, pageSize } = view;
  const total = ROWS * cssW;
  const scale = total / span;
  const fill = (a, b) => {
    // a, b: positions in [0, total) along the wrapped strip
    let x = a;
    while (x < b) {
      const row = Math.floor(x / cssW);
      if (row >= ROWS) break;
      const rowEnd = (row + 1) * cssW;
      const end = Math.min(b, rowEnd);
      ctx.fillRect(x - row * cssW, row * (ROW_H + GAP), end - x, ROW_H);
      x = end;
    }
  };
  const end = start + span;
  // Whatever the runs do not cover: committed below commit, reserved above.
  // A commit far smaller than the reserve still shows as at least 2 px.
  let commitPx = Math.max(0, Math.min(total, (commit - start) * scale));
  if (commit > start && commitPx < 2) commitPx = Math.min(total, 2);
  ctx.fillStyle = colors.reserved;
  fill(commitPx, total);
  ctx.fillStyle = colors.committed;
  fill(0, commitPx);
  for (const state of DRAW_ORDER) {
    ctx.fillStyle = colors[state];
    for (const r of runs) {
      if (r.state !== state || r.offset + r.length <= start || r.offset >= end) continue;
      const a = Math.max(0, (r.offset - start) * scale);
      let b = Math.min(total, (r.offset + r.length - start) * scale);
      if (b - a < 1) b = Math.min(total, a + 1); // a tiny run stays visible
      fill(a, b);
    }
  }
  // Page boundaries when a page is wide enough to see.
  const page = pageSize;
  const pagePx = page * scale;
  if (pagePx >= 6) {
    ctx.fillStyle = color('--pm-grid');
    const first = Math.ceil(start / page) * page;
    for (let off = first; off < end; off += page) {
      const x = (off - start) * scale;
      const row = Math.floor(x / cssW);
      ctx.fillRect(x - row * cssW, row * (ROW_H + GAP), 1, ROW_H);
    }
  }
  // The commit boundary.
  if (commit > start && commit < end) {
    const x = (commit - start) * scale;
    const row = Math.min(ROWS - 1, Math.floor(x / cssW));
    ctx.fillStyle = color('--pm-commit-line');
    ctx.fillRect(x - row * cssW - 1, row * (ROW_H + GAP) - 2 < 0 ? 0 : row * (ROW_H + GAP) - 2, 2, ROW_H + 4);
  }
}

/** Binary search for the run holding off (runs are sorted and do not overlap). */
export function findRun(runs, off) {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = runs[mid];
    if (off < r.offset) hi = mid - 1;
    else if (off >= r.offset + r.length) lo = mid + 1;
    else return r;
  }
  return null;
}
