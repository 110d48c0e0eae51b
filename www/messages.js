// @ts-check
// The page's messages: each about a topic (the run, the device, a link's value, ...)
// and with a tone (information, success, warning, error) that its look says. A newer
// message about a topic replaces the older; each can be dismissed; each is written
// again in the new language when the language changes.

import { t } from './i18n.js';

/** @typedef {'info' | 'success' | 'warning' | 'error'} Tone */

export class Messages {
  /** @param {HTMLElement} area where they are listed */
  constructor(area) {
    this.area = area;
    /** @type {Map<string, { element: HTMLElement, text: () => string }>} */
    this.shown = new Map();
  }

  /**
   * Shows the message `text()` about `topic`, in place of any earlier one about it.
   * @param {string} topic @param {Tone} tone @param {() => string} text
   */
  show(topic, tone, text) {
    this.clear(topic);
    const element = document.createElement('p');
    element.className = `msg ${tone}`;
    element.dataset.topic = topic;
    element.dataset.tone = tone;
    const words = document.createElement('span');
    words.textContent = text();
    const dismiss = document.createElement('button');
    dismiss.className = 'dismiss';
    dismiss.textContent = '×';
    dismiss.setAttribute('aria-label', t('dismiss'));
    dismiss.addEventListener('click', () => this.clear(topic));
    element.append(words, dismiss);
    this.area.append(element);
    this.shown.set(topic, { element, text });
  }

  /** @param {string} topic */
  clear(topic) {
    this.shown.get(topic)?.element.remove();
    this.shown.delete(topic);
  }

  /** Writes every message again, in the page's language. */
  relabel() {
    for (const { element, text } of this.shown.values()) {
      /** @type {HTMLElement} */ (element.firstElementChild).textContent = text();
      /** @type {HTMLElement} */ (element.lastElementChild).setAttribute('aria-label', t('dismiss'));
    }
  }
}
