/**
 * Imported by client.ts right before `pg`, to keep pg's load from costing every ayb command about
 * 15 ms.
 *
 * When pg loads (lib/stream.js) it asks whether it runs on Cloudflare Workers. Without a global
 * `navigator`, as on Node 20, it answers by constructing a `Response`, and the first touch of that
 * global makes Node load its whole fetch implementation (undici), which ayb never uses. While pg
 * loads, `Response` is hidden, so pg takes Node's sockets at once, as it would on Node 21+ (which
 * has `navigator`); client.ts calls restoreResponse() right after, and the global is exactly as it
 * was. Reading the property's descriptor does not trigger Node's lazy getter.
 */
const saved = Object.getOwnPropertyDescriptor(globalThis, 'Response');
const hidden = typeof (globalThis as { navigator?: unknown }).navigator !== 'object' && saved?.configurable === true;
if (hidden) Object.defineProperty(globalThis, 'Response', { value: undefined, configurable: true, writable: true });

export function restoreResponse(): void {
  if (hidden && saved) Object.defineProperty(globalThis, 'Response', saved);
}
