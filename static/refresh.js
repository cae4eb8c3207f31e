// Refresh scheduling: events mark what is stale; one flush at a time fetches it. The first
// event of a burst starts the timer and later ones never push it back, so a steady stream of
// events (a busy host) still refreshes; a slow refresh spaces the next one out.

const DEBOUNCE_MS = 250;

/**
 * createRefresher(KINDS, load, report): `load(stale)` gets the kinds marked stale ({list: true, …})
 * and returns the promises of their loads; `report(error)` gets a failure, once until a flush
 * succeeds again. Returns schedule({kind: true, …}).
 */
export function createRefresher(kinds, load, report) {
  const pending = Object.fromEntries(kinds.map((k) => [k, false]));
  let timer = null;
  let flushing = false;
  let lastFlushMs = 0;
  let lastErrorKey = '';

  function schedule(what) {
    for (const k of kinds) pending[k] = pending[k] || !!what[k];
    if (!timer && !flushing) timer = setTimeout(flush, Math.max(DEBOUNCE_MS, 2 * lastFlushMs));
  }

  async function flush() {
    timer = null;
    flushing = true;
    const started = performance.now();
    const stale = { ...pending };
    for (const k of kinds) pending[k] = false;
    const results = await Promise.allSettled(load(stale));
    flushing = false;
    lastFlushMs = Math.min(5000, performance.now() - started);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) reportOnce(failed.reason);
    else lastErrorKey = ''; // recovered: the same error may be reported again later
    if (kinds.some((k) => pending[k])) schedule({});
  }

  function reportOnce(err) {
    const key = `${err.status}|${err.title}|${err.detail}`;
    if (key !== lastErrorKey) report(err);
    lastErrorKey = key;
  }

  return { schedule, reportOnce };
}
