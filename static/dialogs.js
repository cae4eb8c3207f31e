// Modal forms on the page's single <dialog>: labelled fields, problem display, busy state.
import { h, replace, $ } from './dom.js';
import { problemBlock } from './errors.js';

let seq = 0;

function field(f) {
  const id = `f-${f.name}-${++seq}`;
  const common = { id, name: f.name, dataset: { testid: `field-${f.name}` } };
  const help = f.help ? h('small', { id: `${id}-help`, class: 'help' }, f.help) : null;
  if (help) common['aria-describedby'] = `${id}-help`;
  let input;
  switch (f.type) {
    case 'select':
      input = h('select', common, f.options.map(([v, label]) => h('option', { value: v, selected: v === f.value }, label)));
      break;
    case 'textarea':
      input = h('textarea', { ...common, rows: f.rows || 4, placeholder: f.placeholder, spellcheck: 'false' }, f.value ?? '');
      break;
    case 'checkbox':
      input = h('input', { ...common, type: 'checkbox', checked: !!f.value });
      return h('div', { class: 'field check' }, input, h('label', { for: id }, f.label), help);
    default:
      input = h('input', {
        ...common, type: 'text', value: f.value ?? '', placeholder: f.placeholder, required: f.required,
        autocomplete: 'off', spellcheck: 'false', inputmode: f.inputmode,
      });
  }
  return h('div', { class: 'field' }, h('label', { for: id }, f.label), input, help);
}

/** Reads the form's values by field name (checkboxes as booleans). */
function values(form, fields) {
  const out = {};
  for (const f of fields) {
    const el = form.elements.namedItem(f.name);
    out[f.name] = f.type === 'checkbox' ? el.checked : el.value;
  }
  return out;
}

/**
 * Opens a form dialog. onSubmit(values) may throw ApiError (shown in the dialog) or return
 * false to keep the dialog open; otherwise the dialog closes.
 */
export function openForm({ title, intro, fields = [], submitLabel = 'OK', danger = false, onSubmit, testid }) {
  const dlg = $('dialog');
  const errorBox = h('div', { class: 'dialog-error', role: 'alert', 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', dataset: { testid: 'dialog-submit' } }, submitLabel);
  const form = h('form', { method: 'dialog', class: 'dialog-form', dataset: { testid: testid || 'dialog-form' } },
    h('h2', { id: 'dialog-title' }, title),
    intro ? (intro instanceof Node ? intro : h('p', {}, intro)) : null,
    fields.map(field),
    errorBox,
    h('div', { class: 'dialog-buttons' },
      h('button', { type: 'button', class: 'ghost', dataset: { testid: 'dialog-cancel' }, onclick: () => dlg.close('cancel') }, 'Cancel'),
      submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(errorBox);
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const keep = await onSubmit(values(form, fields), { errorBox, submit, form });
      if (keep !== false) dlg.close('done');
    } catch (err) {
      replace(errorBox, problemBlock(err, 'dialog-error'));
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  replace(dlg, form);
  if (!dlg.open) dlg.showModal();
  const first = form.querySelector('input, select, textarea');
  (first || submit).focus();
  return { dlg, form, errorBox, submit };
}

/** Closes the dialog if it is open. */
export function closeDialog() {
  const dlg = $('dialog');
  if (dlg.open) dlg.close('cancel');
}

/** Parses "k=v" lines (or comma-separated) into a labels object. */
export function parseLabels(text) {
  const labels = {};
  for (const part of String(text || '').split(/[\n,]/)) {
    const s = part.trim();
    if (!s) continue;
    const i = s.indexOf('=');
    if (i <= 0) throw Object.assign(new Error('bad label'), {
      title: 'Invalid label', detail: `“${s}” is not key=value`,
    });
    labels[s.slice(0, i).trim()] = s.slice(i + 1).trim();
  }
  return labels;
}
