import { describe, expect, it } from 'vitest';
import { settingsSql, settingValueSql, splitGucList } from '../../src/clone/settings.js';

describe('copying database settings', () => {
  it('splits a stored GUC list the way the server does', () => {
    expect(splitGucList('"$user", public')).toEqual(['$user', 'public']);
    expect(splitGucList('a,b ,  "c d" , "e""f"')).toEqual(['a', 'b', 'c d', 'e"f']);
    expect(splitGucList('')).toEqual([]);
    expect(splitGucList('  single  ')).toEqual(['single']);
  });

  it('quotes list settings item by item and others as one literal', () => {
    expect(settingValueSql('search_path', '"$user", public')).toBe("'$user', 'public'");
    expect(settingValueSql('search_path', '')).toBe("''");
    expect(settingValueSql('work_mem', '7MB')).toBe("'7MB'");
    expect(settingValueSql('app.note', "it's")).toBe("'it''s'");
    expect(settingValueSql('app.path', 'C:\\tmp')).toBe("E'C:\\\\tmp'");
  });

  it('writes ALTER DATABASE / ALTER ROLE … IN DATABASE / COMMENT for the target, skipping missing roles', () => {
    const { sql, skipped } = settingsSql(
      'ayb_branch_x',
      {
        settings: [
          { role: null, config: ['work_mem=7MB', 'search_path="$user", public'] },
          { role: 'app', config: ['statement_timeout=42s'] },
          { role: 'gone', config: ['work_mem=1MB'] },
        ],
        comment: "Bob's db",
      },
      (role) => role === 'app',
    );
    expect(sql).toEqual([
      `ALTER DATABASE "ayb_branch_x" SET "work_mem" = '7MB'`,
      `ALTER DATABASE "ayb_branch_x" SET "search_path" = '$user', 'public'`,
      `ALTER ROLE "app" IN DATABASE "ayb_branch_x" SET "statement_timeout" = '42s'`,
      `COMMENT ON DATABASE "ayb_branch_x" IS 'Bob''s db'`,
    ]);
    expect(skipped).toEqual(['settings for role "gone" (no such role here)']);
  });

  it('writes nothing when the source has no settings and no comment', () => {
    expect(settingsSql('t', { settings: [], comment: null })).toEqual({ sql: [], skipped: [] });
  });
});
