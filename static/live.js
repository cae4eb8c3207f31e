// Live updates: EventSource on /api/v1/events (named events), with a connection indicator;
// falls back to polling with the Bearer token when the stream is refused (protected read level).
import { $ } from './dom.js';
import { getToken } from './api.js';

export const EVENT_TYPES = [
  'created', 'deleted', 'grown', 'written', 'reset', 'adopted', 'modified', 'view-mapped', 'view-unmapped',
  'view-moved', 'locked', 'unlocked', 'rescan',
  // Version 1.1 (API-HOST.md "Events").
  'mount-added', 'mount-removed', 'finding', 'deleted-while-mapped', 'quarantined', 'restored', 'purged',
];

const POLL_MS = 2000;
const RETRY_STREAM_MS = 30000;

/**
 * startLive({onEvent(event), onResync(), poll()}):
 * onEvent gets each parsed event; onResync is called whenever the stream (re)opens, since
 * events may have been missed; poll() refreshes everything while in polling mode.
 */
export function startLive({ onEvent, onResync, poll }) {
  let es = null;
  let pollTimer = null;
  let retryTimer = null;
  let mode = 'connecting';

  function status(state, text, title) {
    mode = state;
    const el = $('conn-status');
    el.dataset.state = state;
    el.querySelector('.conn-text').textContent = text;
    el.title = title;
  }

  function startPolling(why) {
    if (!pollTimer) {
      pollTimer = setInterval(async () => {
        try {
          await poll();
          status('polling', 'polling', `${why} Refreshing every ${POLL_MS / 1000} s.`);
        } catch (e) {
          if (e.status === 401 || e.status === 403) {
            status('denied', 'no access', `The server refuses this tab's token: ${e.title}${e.detail ? ` — ${e.detail}` : ''}. Set the token (top right).`);
          } else if (e.status) {
            status('offline', 'error', `The server answers ${e.status} ${e.title}; retrying.`);
          } else {
            status('offline', 'offline', `The server does not answer (${e.detail || e.message}); retrying.`);
          }
        }
      }, POLL_MS);
    }
    status('polling', 'polling', `${why} Refreshing every ${POLL_MS / 1000} s.`);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, RETRY_STREAM_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
    clearTimeout(retryTimer);
  }

  function handle(type, msg) {
    let data = {};
    try {
      data = JSON.parse(msg.data || '{}');
    } catch {
      data = {};
    }
    onEvent({ ...data, type: data.type || type, id: data.id ?? msg.lastEventId });
  }

  function connect() {
    if (es) es.close();
    if (mode !== 'polling') status('connecting', 'connecting', 'Connecting to the event stream…');
    es = new EventSource('/api/v1/events');
    for (const type of EVENT_TYPES) es.addEventListener(type, (m) => handle(type, m));
    es.onmessage = (m) => handle('message', m); // unnamed events, if any
    es.onopen = () => {
      stopPolling();
      status('live', 'live', 'Live: the event stream is connected.');
      onResync();
    };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused outright (e.g. 401 with a protected read level, or not an event stream):
        // EventSource cannot send a Bearer token, so poll with one instead.
        es.close();
        es = null;
        startPolling(getToken()
          ? 'The event stream was refused (a protected read level needs a token EventSource cannot send).'
          : 'The event stream was refused.');
      } else {
        // CONNECTING: the browser reconnects by itself (server restart, network blip).
        status('reconnecting', 'reconnecting', 'The event stream dropped; reconnecting…');
      }
    };
  }

  connect();
  return { mode: () => mode };
}
