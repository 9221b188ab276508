import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';

export interface RouteRequest {
  readonly req: IncomingMessage;
  readonly url: URL;
  /** Path parameters (`:name`), URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
}

/** What a handler answers: a JSON value, or a text asset with its content type. */
export type Reply =
  | { readonly status: number; readonly json: unknown; readonly headers?: Readonly<Record<string, string>> }
  | { readonly status: number; readonly text: string; readonly contentType: string; readonly headers?: Readonly<Record<string, string>> };

export type Handler = (request: RouteRequest) => Promise<Reply> | Reply;

interface Route {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: Handler;
}

/** A small method + path router: `/api/admin/branches/:name`. No regular expressions from users. */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, segments: split(pattern), handler });
    return this;
  }

  /** The handler for a request, or a 404 / 405 error. */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } {
    const segments = split(pathname);
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { handler: route.handler, params };
      allowed.push(route.method);
    }
    if (allowed.length > 0) {
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${pathname}`, {
        hint: `allowed: ${allowed.join(', ')}`,
        headers: { Allow: allowed.join(', ') },
      });
    }
    throw new HttpError(404, 'not_found', `no route ${method} ${pathname}`, {
      hint: 'the API has /health, /api/admin/auth, /api/admin/branches[/<name>[/url|/reset|/expire|/data-diff]], /api/admin/snapshots[/<name>], /api/admin/diff and /api/admin/database; the dashboard is at /admin',
    });
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function matchSegments(pattern: readonly string[], actual: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i]!;
    const got = actual[i]!;
    if (want.startsWith(':')) {
      try {
        params[want.slice(1)] = decodeURIComponent(got);
      } catch {
        throw new HttpError(400, 'invalid_path', `malformed percent-encoding in "${got}"`);
      }
    } else if (want !== got) {
      return undefined;
    }
  }
  return params;
}
