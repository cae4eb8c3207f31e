// Actions with the admin token: create, grow, reset, write, views, leases, adopt, delete.
import { h, replace } from './dom.js';
import { api, hasToken } from './api.js';
import { openForm, parseLabels } from './dialogs.js';
import { onChangedCallback } from './actions-bus.js';
import { formatBytes, parseSize, sizeForApi, parseHexBytes } from './format.js';

export const NO_TOKEN =
  'Read-only: no admin token. Open the dashboard link shm-admin prints at start (…/#token=…) or set the token.';

const changed = (...args) => onChangedCallback()(...args);

/** Why an action is unavailable for a section, or null when it may be tried. */
export function reason(action, s) {
  if (!hasToken()) return NO_TOKEN;
  if (action === 'create') return null;
  if (!s) return 'No section selected.';
  if (s.kind === 'semaphore') return 'Semaphores are listed, never changed.';
  if (action === 'adopt') {
    if (s.managed) return 'Already managed by shm-admin.';
    return null;
  }
  if (!s.managed) return 'Foreign section: adopt it first to change it through shm-admin.';
  if (s.state === 'missing' && action !== 'delete') return 'The object is missing from /dev/shm; only delete (forget it) applies.';
  if (action === 'grow' && s.reserve != null && s.commit >= s.reserve) return 'Fully committed: the commit already equals the reserve.';
  if ((action === 'reset' || action === 'write') && !s.commit) return 'Nothing is committed yet: grow the section first.';
  return null;
}

/** An action button that is disabled, with its reason as title and description, when unavailable. */
export function actionButton(action, label, s, onclick, cls = '') {
  const why = reason(action, s);
  return h('button', {
    type: 'button', class: `${cls} ${why ? 'unavailable' : ''}`.trim(), dataset: { testid: `${action}-button`, action },
    disabled: !!why, title: why || label, 'aria-label': why ? `${label} (unavailable: ${why})` : null, onclick,
  }, label);
}

const nsOptions = [['local', 'local (0600, this user only)'], ['global', 'global (0666, any local user)']];

export function openCreate() {
  openForm({
    title: 'New section',
    testid: 'create-form',
    intro: 'Creates /dev/shm/NAME, or opens it when it already exists (unless exclusive).',
    fields: [
      { name: 'name', label: 'Name (optional)', placeholder: 'a unique name is made when empty' },
      { name: 'reserve', label: 'Reserve', value: '1MiB', required: true, help: 'Most it may ever grow to: 4096, 64KiB, 1GiB…' },
      { name: 'commit', label: 'Commit (optional)', placeholder: 'whole reserve', help: 'Usable now; empty commits the whole reserve.' },
      { name: 'namespace', label: 'Namespace', type: 'select', options: nsOptions, value: 'local' },
      { name: 'labels', label: 'Labels (optional)', type: 'textarea', rows: 2, placeholder: 'app=matcher\nteam=core' },
      { name: 'exclusive', label: 'Exclusive: fail if it already exists', type: 'checkbox' },
    ],
    submitLabel: 'Create',
    onSubmit: async (v) => {
      const body = { reserve: sizeForApi(v.reserve), namespace: v.namespace };
      if (v.name.trim()) body.name = v.name.trim();
      if (v.commit.trim()) body.commit = sizeForApi(v.commit);
      if (v.exclusive) body.exclusive = true;
      const labels = parseLabels(v.labels);
      if (Object.keys(labels).length) body.labels = labels;
      const s = await api.create(body);
      changed(s.name, { created: s.created, select: true });
    },
  });
}

export function openGrow(s) {
  openForm({
    title: `Grow ${s.name}`,
    testid: 'grow-form',
    intro: `Commit ${formatBytes(s.commit)} of ${formatBytes(s.reserve)} reserved. Growing commits memory up front; it never shrinks.`,
    fields: [
      { name: 'how', label: 'Grow', type: 'select', options: [['by', 'by this much'], ['commit', 'to this commit']], value: 'by' },
      { name: 'size', label: 'Size', value: '64KiB', required: true, help: 'Rounded up to whole pages.' },
    ],
    submitLabel: 'Grow',
    onSubmit: async (v) => {
      await api.grow(s.name, { [v.how]: sizeForApi(v.size) });
      changed(s.name);
    },
  });
}

function offsetOrThrow(text, what) {
  const n = parseSize(text);
  if (n === null) throw Object.assign(new Error(what), { title: `Invalid ${what}`, detail: `“${text}” is not a byte count (4096, 0x1000, 4KiB)` });
  return n;
}

export function openReset(s, pageSize = 4096) {
  openForm({
    title: `Reset a range of ${s.name}`,
    testid: 'reset-form',
    intro: `Discards the contents and returns the memory; the range stays committed and reads as zeros. Page-aligned (${formatBytes(pageSize)}).`,
    fields: [
      { name: 'offset', label: 'Offset', value: '0', required: true },
      { name: 'length', label: 'Length', value: String(s.commit), required: true, help: `Commit is ${formatBytes(s.commit)} (${s.commit} bytes).` },
    ],
    submitLabel: 'Reset',
    danger: true,
    onSubmit: async (v) => {
      await api.reset(s.name, offsetOrThrow(v.offset, 'offset'), offsetOrThrow(v.length, 'length'));
      changed(s.name);
    },
  });
}

export function openWrite(s) {
  openForm({
    title: `Write bytes into ${s.name}`,
    testid: 'write-form',
    fields: [
      { name: 'offset', label: 'Offset', value: '0', required: true },
      { name: 'encoding', label: 'Bytes given as', type: 'select', options: [['text', 'text (UTF-8)'], ['hex', 'hex (48 65 6c 6c 6f)']], value: 'text' },
      { name: 'content', label: 'Content', type: 'textarea', rows: 4 },
      { name: 'partial', label: 'Partial: write what fits inside the commit', type: 'checkbox' },
    ],
    submitLabel: 'Write',
    onSubmit: async (v, ctx) => {
      const offset = offsetOrThrow(v.offset, 'offset');
      const bytes = v.encoding === 'hex' ? parseHexBytes(v.content) : new TextEncoder().encode(v.content);
      if (!bytes) throw Object.assign(new Error('hex'), { title: 'Invalid hex', detail: 'Give whole bytes as pairs of hex digits.' });
      const r = await api.write(s.name, offset, bytes, v.partial);
      changed(s.name, { written: { offset, length: r?.written ?? bytes.length } });
      if (r && r.written < r.requested) {
        replace(ctx.errorBox, h('p', { class: 'note' }, `Wrote ${r.written} of ${r.requested} bytes (the rest is past the commit).`));
        return false;
      }
    },
  });
}

export function openMapView(s) {
  openForm({
    title: `Map a view of ${s.name}`,
    testid: 'map-form',
    intro: 'A view is the server\'s own mapping; by default it spans the whole reserve and sees later grows.',
    fields: [
      { name: 'offset', label: 'Offset', value: '0' },
      { name: 'length', label: 'Length (optional)', placeholder: 'to the end of the reserve' },
      { name: 'access', label: 'Access', type: 'select', options: [['rw', 'read-write'], ['ro', 'read-only']], value: 'rw' },
    ],
    submitLabel: 'Map',
    onSubmit: async (v) => {
      const body = { access: v.access, offset: offsetOrThrow(v.offset || '0', 'offset') };
      if (v.length.trim()) body.length = offsetOrThrow(v.length, 'length');
      await api.mapView(s.name, body);
      changed(s.name);
    },
  });
}

export function openMoveView(s, view) {
  openForm({
    title: `Move view ${view.id}`,
    testid: 'move-form',
    intro: `Now at ${view.address}. Moving remaps the pages at a new address without copying a byte.`,
    fields: [{ name: 'address', label: 'New address (optional)', placeholder: 'empty: the kernel chooses', help: 'Hex, page-aligned, e.g. 0x7f0000000000.' }],
    submitLabel: 'Move',
    onSubmit: async (v) => {
      const a = v.address.trim();
      await api.moveView(s.name, view.id, view.address, a ? (a.startsWith('0x') ? a : `0x${a}`) : null);
      changed(s.name);
    },
  });
}

export function openLease(s) {
  openForm({
    title: `Take the lock of ${s.name}`,
    testid: 'lease-form',
    intro: 'Takes the whole-object advisory lock that cooperating programs use; the lease ends at its TTL if not released.',
    fields: [
      { name: 'mode', label: 'Mode', type: 'select', options: [['exclusive', 'exclusive'], ['shared', 'shared']], value: 'exclusive' },
      { name: 'timeoutMs', label: 'Wait up to (ms)', value: '0' },
      { name: 'ttlMs', label: 'Hold for (ms)', value: '30000' },
    ],
    submitLabel: 'Take lease',
    onSubmit: async (v) => {
      await api.lock(s.name, { mode: v.mode, timeoutMs: Number(v.timeoutMs) || 0, ttlMs: Number(v.ttlMs) || 30000 });
      changed(s.name);
    },
  });
}

export function openAdopt(s) {
  openForm({
    title: `Adopt ${s.name}`,
    testid: 'adopt-form',
    intro: 'Registers this foreign section so shm-admin can manage it; its bytes stay as they are.',
    fields: [
      { name: 'reserve', label: 'Reserve (optional)', placeholder: `current size, ${formatBytes(s.commit)}` },
      { name: 'namespace', label: 'Namespace', type: 'select', options: nsOptions, value: s.namespace || 'local' },
      { name: 'labels', label: 'Labels (optional)', type: 'textarea', rows: 2, placeholder: 'app=legacy' },
    ],
    submitLabel: 'Adopt',
    onSubmit: async (v) => {
      const body = { namespace: v.namespace };
      if (v.reserve.trim()) body.reserve = sizeForApi(v.reserve);
      const labels = parseLabels(v.labels);
      if (Object.keys(labels).length) body.labels = labels;
      await api.adopt(s.name, body);
      changed(s.name);
    },
  });
}

/** Simple one-shot actions (unmap, release) that report errors through onError. */
export async function runAction(fn, name, onError) {
  try {
    await fn();
    changed(name);
  } catch (e) {
    onError(e);
  }
}

