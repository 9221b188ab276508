import { describe, expect, it } from 'vitest';
import { toolEnv } from '../../src/postgres/tools.js';

describe('toolEnv (the environment of pg_dump and psql)', () => {
  const parent = { PATH: '/usr/bin', AYB_DATABASE_URL: 'postgres://u:secret@h/db', AYB_ADMIN_PASSWORD: 'pw', PGSSLMODE: 'require' };

  it('keeps ayb\'s own settings, which may hold passwords, out of the child', () => {
    const env = toolEnv({}, parent);
    expect(env.AYB_DATABASE_URL).toBeUndefined();
    expect(env.AYB_ADMIN_PASSWORD).toBeUndefined();
    // Undefined (not absent) entries are what removes them from execa's inherited environment.
    expect(Object.keys(env).sort()).toEqual(['AYB_ADMIN_PASSWORD', 'AYB_DATABASE_URL']);
  });

  it('adds the libpq variables of the one connection the child makes', () => {
    expect(toolEnv({ PGPASSWORD: 'pw2' }, parent)).toEqual({ AYB_DATABASE_URL: undefined, AYB_ADMIN_PASSWORD: undefined, PGPASSWORD: 'pw2' });
  });
});
