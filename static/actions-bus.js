// Where actions report success: the app registers one callback; panels call it.
let callback = () => {};

export function setOnChanged(fn) {
  callback = fn;
}

export function onChangedCallback() {
  return callback;
}
