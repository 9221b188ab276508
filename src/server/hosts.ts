import net from 'node:net';
import { isLoopbackHost } from '../core/net.js';

export { isLoopbackHost };

/**
 * Whether a request's Host header names this machine. A server on a loopback address answers only
 * to such names, so a web page that rebinds its own domain to 127.0.0.1 (DNS rebinding) cannot
 * drive it from a browser.
 */
export function isLoopbackHostHeader(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const name = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.replace(/:\d+$/, '');
  return isLoopbackHost(name);
}

/** `http://host:port`, with IPv6 literals bracketed. */
export function httpOrigin(host: string, port: number): string {
  return `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}
