// @ts-check
// What WebGPU this browser offers: its adapter's name and whether it is a software
// one (a CPU emulation, where the CPU backend is faster), or why there is none.

import { t } from './i18n.js';

/** @typedef {{ vendor?: string, architecture?: string, description?: string, isFallbackAdapter?: boolean }} AdapterInfo */
/** @typedef {{ info?: AdapterInfo, isFallbackAdapter?: boolean }} Adapter what the page reads of a GPUAdapter */

/**
 * The WebGPU adapter's name, or none and why.
 * @returns {Promise<{ name?: string, software?: boolean, why?: string }>}
 */
export async function probeWebGpu() {
  const gpu = /** @type {{ gpu?: { requestAdapter(): Promise<Adapter | null> } }} */ (/** @type {unknown} */ (navigator)).gpu;
  if (!gpu) return { why: t('noWebGpu') };
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return { why: t('noAdapter') };
  // `isFallbackAdapter` moved from the adapter to its info; browsers have either.
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'WebGPU adapter';
  const software = Boolean(adapter.isFallbackAdapter || info.isFallbackAdapter);
  return { name: name + (software ? ' (software)' : ''), software };
}
