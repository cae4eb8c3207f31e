// The health panel: GET /api/v1/doctor findings, worst first, each with its title, detail, the
// objects and mounts it is about (each opens its detail) and its fix. Refreshed on `finding` events.
import { h, replace, $, keepingFocus } from './dom.js';
import { formatAge, exactTime } from './format.js';

const RANK = { critical: 0, warning: 1, info: 2 };
const SHOWN_SUBJECTS = 12;

/** A subject's href in a few words: `orders`, `mount 0:40`, `big on 0:40`, `System V 4026531839/7`. */
export function describeHref(href) {
  const dec = (s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  let m;
  if ((m = /^\/api\/v1\/sections\/([^/]+)$/.exec(href))) return dec(m[1]);
  if ((m = /^\/api\/v1\/mounts\/([^/]+)$/.exec(href))) return `mount ${dec(m[1])}`;
  if ((m = /^\/api\/v1\/mounts\/([^/]+)\/sections\/([^/]+)$/.exec(href))) return `${dec(m[2])} on ${dec(m[1])}`;
  if ((m = /^\/api\/v1\/sysv\/([^/]+)\/([^/]+)$/.exec(href))) return `System V ${m[2]} (ipc ${m[1]})`;
  if ((m = /^\/api\/v1\/unlinked\/([^/]+)$/.exec(href))) return `unlinked ${m[1]}`;
  return href;
}

function evidenceList(evidence) {
  const entries = Object.entries(evidence || {});
  if (!entries.length) return null;
  return h('details', { class: 'finding-evidence' },
    h('summary', {}, 'Evidence'),
    h('dl', { class: 'meta' }, entries.map(([k, v]) => [
      h('dt', {}, k),
      h('dd', { class: 'mono' }, v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)),
    ])));
}

// Findings whose fix starts with a dry run of reclaim on their mount.
const RECLAIMABLE = new Set(['orphans', 'shm-full']);

function finding(f, open, hooks) {
  const mount = f.evidence?.mount;
  const subjects = f.subjects || [];
  const more = subjects.length - SHOWN_SUBJECTS;
  return h('li', { class: `finding sev-${f.severity}`, dataset: { testid: 'finding', id: f.id, severity: f.severity } },
    h('div', { class: 'finding-head' },
      h('span', { class: `tag sev-${f.severity}` }, f.severity),
      h('strong', { class: 'finding-title' }, f.title),
      h('span', { class: 'muted mono finding-id' }, f.id)),
    f.detail ? h('p', { class: 'finding-detail' }, f.detail) : null,
    subjects.length
      ? h('div', { class: 'finding-subjects', dataset: { testid: 'finding-subjects' } },
        h('span', { class: 'muted' }, 'About: '),
        subjects.slice(0, SHOWN_SUBJECTS).map((href) => h('button', {
          type: 'button', class: 'link subject', dataset: { href, testid: 'finding-subject' },
          title: `Open ${href}`, onclick: () => open(href),
        }, describeHref(href))),
        more > 0 ? h('span', { class: 'muted' }, ` and ${more} more`) : null)
      : null,
    f.fix ? h('p', { class: 'finding-fix', dataset: { testid: 'finding-fix' } }, h('strong', {}, 'Fix: '), f.fix) : null,
    hooks.reclaim && RECLAIMABLE.has(f.id) && typeof mount === 'string'
      ? h('button', {
        type: 'button', class: 'small', dataset: { testid: 'finding-reclaim' },
        title: `Open the reclaim dialog for mount ${mount}: a dry run first, nothing changes until you confirm`,
        onclick: () => hooks.reclaim({ mounts: mount }),
      }, `Look for orphans on ${mount}…`)
      : null,
    evidenceList(f.evidence));
}

/**
 * Renders the doctor's report; `open(href)` shows a subject, `hooks.reclaim({mounts})` opens the
 * reclaim dialog for a finding's mount. null: the server has no doctor.
 */
export function renderHealth(report, open, hooks = {}) {
  const panel = $('health');
  if (!report) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const findings = [...(report.findings || [])]
    .sort((a, b) => (RANK[a.severity] ?? 3) - (RANK[b.severity] ?? 3));
  const s = report.summary || {};
  const worst = findings[0]?.severity || 'ok';
  panel.dataset.worst = worst;
  keepingFocus(panel, () => {
    replace($('health-summary'),
      ['critical', 'warning', 'info'].map((k) => h('span', {
        class: `tag sev-${k}${s[k] ? '' : ' none'}`, dataset: { testid: `health-${k}` },
      }, `${s[k] ?? 0} ${k}`)),
      report.checkedAt ? h('span', { class: 'muted', title: exactTime(report.checkedAt) }, ` checked ${formatAge(report.checkedAt)}`) : null);
    replace($('health-body'), findings.length
      ? h('ul', { class: 'findings', dataset: { testid: 'findings' } }, findings.map((f) => finding(f, open, hooks)))
      : h('p', { class: 'muted empty', dataset: { testid: 'health-ok' } }, 'Nothing wrong found on this host.'));
  });
}
