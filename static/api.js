// The API client: token handling, JSON requests, RFC 9457 problems as ApiError.

const TOKEN_KEY = 'shm-admin.token';

/**
 * Reads `#token=` (and `section=`) from the URL fragment, keeps the token in sessionStorage and
 * removes it from the address bar so it is not left in history or shared by copy-paste.
 * Returns the section named in the fragment, if any.
 */
export function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = params.get('token');
  if (token !== null) {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  }
  return params.get('section');
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export const hasToken = () => getToken() !== '';

/** An error answer from the API, carrying the problem+json document. */
export class ApiError extends Error {
  constructor(status, problem) {
    const title = problem?.title || `HTTP ${status}`;
    super(problem?.detail ? `${title}: ${problem.detail}` : title);
    this.status = status;
    this.problem = problem || {};
    this.title = title;
    this.detail = problem?.detail || '';
  }
}

/** Network failure (server down, connection refused). */
export class NetworkError extends Error {
  constructor(cause) {
    super('The server cannot be reached');
    this.title = 'Server unreachable';
    this.detail = cause?.message || 'The request did not reach shm-admin.';
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  const token = getToken();
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

function url(path, query) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u.pathname + u.search;
}

/**
 * request('POST', '/api/v1/sections', {json: {...}}) -> parsed JSON, text, or null (204).
 * Options: json (body as JSON), body (raw bytes), query (object), accept.
 */
export async function request(method, path, opts = {}) {
  const h = headers(opts.accept ? { Accept: opts.accept } : { Accept: 'application/json' });
  let body;
  if (opts.json !== undefined) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    h['Content-Type'] = 'application/octet-stream';
    body = opts.body;
  }
  let res;
  try {
    res = await fetch(url(path, opts.query), { method, headers: h, body, cache: 'no-store' });
  } catch (e) {
    throw new NetworkError(e);
  }
  const type = res.headers.get('Content-Type') || '';
  if (!res.ok) {
    let problem = null;
    try {
      problem = type.includes('json') ? await res.json() : { detail: (await res.text()).slice(0, 300) };
    } catch {
      problem = null;
    }
    throw new ApiError(res.status, problem);
  }
  if (res.status === 204) return null;
  if (type.includes('json')) return res.json();
  return res.text();
}

const enc = encodeURIComponent;
const S = (name) => `/api/v1/sections/${enc(name)}`;

export const api = {
  system: () => request('GET', '/api/v1/system'),
  mounts: () => request('GET', '/api/v1/mounts'),
  sections: () => request('GET', '/api/v1/sections', { query: { limit: 10000 } }),
  section: (name) => request('GET', S(name)),
  pages: (name, query) => request('GET', `${S(name)}/pages`, { query }),
  dumpHex: (name, offset, length) =>
    request('GET', `${S(name)}/data`, { query: { offset, length, format: 'hex' } }),
  create: (body) => request('POST', '/api/v1/sections', { json: body }),
  remove: (name, force) => request('DELETE', S(name), { query: force ? { force: 'true' } : {} }),
  adopt: (name, body) => request('POST', `${S(name)}/adopt`, { json: body }),
  grow: (name, body) => request('POST', `${S(name)}/grow`, { json: body }),
  reset: (name, offset, length) => request('POST', `${S(name)}/reset`, { json: { offset, length } }),
  write: (name, offset, bytes, partial) =>
    request('PUT', `${S(name)}/data`, { body: bytes, query: { offset, partial: partial ? 'true' : '' } }),
  mapView: (name, body) => request('POST', `${S(name)}/views`, { json: body }),
  unmapView: (name, id) => request('DELETE', `${S(name)}/views/${enc(id)}`),
  moveView: (name, id, oldAddress, newAddress) =>
    request('POST', `${S(name)}/views/${enc(id)}/move`, { json: { oldAddress, newAddress } }),
  lock: (name, body) => request('POST', `${S(name)}/lock`, { json: body }),
  unlock: (name, lease) => request('DELETE', `${S(name)}/lock/${enc(lease)}`),

  // Version 1.1, the whole host (API-HOST.md). Objects of other kinds and mounts are addressed by
  // the `href` the inventory gives them; their dumps are `${href}/data`, admin level like any bytes.
  inventory: (query) => request('GET', '/api/v1/inventory', { query: { limit: 10000, ...query } }),
  object: (href) => request('GET', href),
  objectPages: (href, query) => request('GET', `${href}/pages`, { query }),
  objectDumpHex: (href, offset, length) =>
    request('GET', `${href}/data`, { query: { offset, length, format: 'hex' } }),
  removeObject: (href, force) => request('DELETE', href, { query: force ? { force: 'true' } : {} }),
  doctor: () => request('GET', '/api/v1/doctor'),
  history: (since) => request('GET', '/api/v1/history', { query: { since } }),
  reclaim: (body) => request('POST', '/api/v1/reclaim', { json: body }),
  quarantine: () => request('GET', '/api/v1/quarantine'),
  restoreQuarantined: (id) => request('POST', `/api/v1/quarantine/${enc(id)}/restore`),
  purgeQuarantined: (id) => request('DELETE', `/api/v1/quarantine/${enc(id)}`),
};

/** The href of a section of the server's own shm directory, or null for any other object. */
export function ownSectionName(href) {
  const m = /^\/api\/v1\/sections\/([^/]+)$/.exec(href || '');
  return m ? decodeURIComponent(m[1]) : null;
}
