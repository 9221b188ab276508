import { describe, expect, it } from 'vitest';
import { ConflictError, ExternalError, InterruptedError, NotFoundError, UsageError } from '../../src/core/errors.js';
import { isLoopbackHost, isLoopbackHostHeader, httpOrigin } from '../../src/server/hosts.js';
import { errorResponse, HttpError } from '../../src/server/http-error.js';
import { Router } from '../../src/server/router.js';

describe('errorResponse', () => {
  it('maps the CLI exit codes to HTTP statuses in one place', () => {
    expect(errorResponse(new UsageError('bad name', {}, 'invalid_name'))).toMatchObject({ status: 400, body: { code: 'invalid_name' } });
    expect(errorResponse(new NotFoundError('branch_not_found', 'no'))).toMatchObject({ status: 404 });
    expect(errorResponse(new ConflictError('branch_exists', 'yes', { hint: 'h' }))).toEqual({
      status: 409,
      body: { code: 'branch_exists', message: 'yes', hint: 'h' },
    });
    expect(errorResponse(new ExternalError('connection_failed', 'down'))).toMatchObject({ status: 503 });
    expect(errorResponse(new InterruptedError('SIGTERM'))).toMatchObject({ status: 503, body: { code: 'interrupted' } });
    expect(errorResponse(new HttpError(413, 'payload_too_large', 'big'))).toMatchObject({ status: 413 });
  });

  it('never echoes an unknown error', () => {
    expect(errorResponse(new Error('password=hunter2'))).toEqual({
      status: 500,
      body: { code: 'unexpected', message: 'unexpected server error', hint: expect.any(String) },
    });
  });
});

describe('hosts', () => {
  it.each([
    ['127.0.0.1', true], ['127.1.2.3', true], ['localhost', true], ['::1', true], ['[::1]', true], ['app.localhost', true],
    ['0.0.0.0', false], ['::', false], ['192.168.1.10', false], ['example.com', false], ['localhost.example.com', false],
  ])('isLoopbackHost(%s) = %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });

  it('accepts only loopback names in the Host header', () => {
    expect(isLoopbackHostHeader('127.0.0.1:8090')).toBe(true);
    expect(isLoopbackHostHeader('localhost:8090')).toBe(true);
    expect(isLoopbackHostHeader('[::1]:8090')).toBe(true);
    expect(isLoopbackHostHeader('evil.example:8090')).toBe(false);
    expect(isLoopbackHostHeader(undefined)).toBe(false);
  });

  it('brackets IPv6 origins', () => {
    expect(httpOrigin('::1', 80)).toBe('http://[::1]:80');
    expect(httpOrigin('127.0.0.1', 8090)).toBe('http://127.0.0.1:8090');
  });
});

describe('Router', () => {
  const router = new Router()
    .add('GET', '/api/admin/branches', () => ({ status: 200, json: 'list' }))
    .add('DELETE', '/api/admin/branches/:name', ({ params }) => ({ status: 200, json: params }));

  it('matches methods and decodes parameters', () => {
    expect(router.match('DELETE', '/api/admin/branches/feature%2Dx').params).toEqual({ name: 'feature-x' });
    expect(router.match('HEAD', '/api/admin/branches').params).toEqual({});
  });

  it('says 404 for unknown paths and 405 (with Allow) for a known path and wrong method', () => {
    const missing = (() => {
      try {
        router.match('GET', '/nope');
      } catch (error) {
        return error as HttpError;
      }
    })();
    expect(missing?.status).toBe(404);
    // The hint lists the admin routes, the branch's data changes included.
    expect(missing?.hint).toContain('/api/admin/branches[/<name>[/url|/reset|/expire|/data-diff]]');
    try {
      router.match('PUT', '/api/admin/branches/x');
      expect.unreachable();
    } catch (error) {
      expect((error as HttpError).status).toBe(405);
      expect((error as HttpError).headers).toEqual({ Allow: 'DELETE' });
    }
    expect(() => router.match('DELETE', '/api/admin/branches/%E0%A4%A')).toThrow(/percent-encoding/);
  });
});
