// Formatting helpers: binary sizes, relative ages, hex offsets, and parsing of typed sizes.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB"; three significant digits at most, trailing zeros dropped. */
export function formatBytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${v} B`;
  // 1023.94 GiB must not round up to a misleading "1024 GiB".
  const digits = Math.abs(v) >= 1000 ? 1 : Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${Number(v.toFixed(digits))} ${UNITS[i]}`;
}

/** Exact byte count with thousands separators, for titles. */
export function formatExactBytes(n) {
  if (n === null || n === undefined) return '';
  return `${Number(n).toLocaleString('en-US')} bytes`;
}

/** Percentage 0..100 of part in whole, clamped; 0 when whole is 0. */
export function percent(part, whole) {
  if (!whole || whole <= 0 || part === null || part === undefined) return 0;
  return Math.max(0, Math.min(100, (part / whole) * 100));
}

/** "0x1000" for 4096. */
export function hex(n, width = 0) {
  return '0x' + Number(n).toString(16).padStart(width, '0');
}

/** Relative age of an ISO time: "5 s ago", "3 min ago", "in 20 s". */
export function formatAge(iso, now = Date.now()) {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  const diff = Math.round((now - t) / 1000);
  const future = diff < 0;
  const s = Math.abs(diff);
  let text;
  if (s < 60) text = `${s} s`;
  else if (s < 3600) text = `${Math.floor(s / 60)} min`;
  else if (s < 86400) text = `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  else text = `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  return future ? `in ${text}` : `${text} ago`;
}

/** Exact local time plus the ISO form, for a title attribute. */
export function exactTime(iso) {
  if (!iso) return '';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return String(iso);
  return `${t.toLocaleString()} (${iso})`;
}

/** Duration in seconds as "2 h 5 min". */
export function formatDuration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

const MULT = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * Parses an offset or length typed by a person: "4096", "0x1000", "64KiB", "64 K", "1 MiB".
 * Returns a non-negative integer, or null when the text is not such a number.
 */
export function parseSize(text) {
  const s = String(text ?? '').trim();
  if (s === '') return null;
  if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s, 16);
  const m = /^([0-9]+)\s*(?:([KMGT])(?:iB|B)?)?$/i.exec(s);
  if (!m) return null;
  return Number(m[1]) * MULT[(m[2] || '').toUpperCase()];
}

/** A size for the API: integers as numbers, anything else as the string typed (the server validates). */
export function sizeForApi(text) {
  const s = String(text ?? '').trim();
  if (/^[0-9]+$/.test(s)) return Number(s);
  if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s, 16);
  return s;
}

/** "48 65 6c" / "48656c" / "0x48 0x65" -> Uint8Array, or null when it is not whole bytes of hex. */
export function parseHexBytes(text) {
  const s = String(text ?? '').replace(/0x/gi, '').replace(/[\s,:]/g, '');
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}
