// @ts-check
// The page's elements by id, typed (a missing one is a bug, and says which), and
// files saved as downloads.

/** @param {string} id */
export function $(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}
export const input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id));
export const button = (/** @type {string} */ id) => /** @type {HTMLButtonElement} */ ($(id));
export const canvas = (/** @type {string} */ id) => /** @type {HTMLCanvasElement} */ ($(id));

/** Saves `blob` as the file `name`, as a download. @param {string} name @param {Blob} blob */
export function download(name, blob) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
