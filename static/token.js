// The admin token's button in the top bar: the state it shows (admin / read-only) and the dialog
// that sets or forgets the token for this tab.
import { $ } from './dom.js';
import { hasToken, setToken, getToken } from './api.js';
import { reason } from './actions.js';
import { openForm } from './dialogs.js';

export function renderTokenButton() {
  const b = $('token-button');
  const admin = hasToken();
  b.dataset.state = admin ? 'admin' : 'readonly';
  b.textContent = admin ? 'admin token' : 'read-only';
  b.title = admin ? 'Admin token set for this tab. Click to change or forget it.'
    : 'No admin token: actions are disabled. Click to enter the token.';
  const create = $('create-button');
  const why = reason('create');
  create.disabled = !!why;
  create.title = why || 'Create a section';
}

/** `changed()` runs after the token was saved (everything is to be read again with it). */
export function openTokenDialog(changed) {
  openForm({
    title: 'Admin token',
    intro: 'The token is printed by shm-admin at start (in the dashboard link) and stored in STATE_DIR/admin-token. It is kept in this tab only.',
    fields: [{ name: 'token', label: 'Token', value: getToken(), placeholder: '64 hex characters; empty for read-only' }],
    submitLabel: 'Save',
    onSubmit: (v) => {
      setToken(v.token.trim());
      renderTokenButton();
      changed();
    },
  });
}
