import type { CloneStrategy } from '../core/records.js';
import type { StrategyChoice } from '../config/schema.js';
import { ExternalError, NotFoundError, UsageError } from '../core/errors.js';
import type { Client } from '../postgres/client.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { sessionsBlocking, templateSourceFacts } from './template.js';

/** Where the bytes come from. */
export interface CloneSource {
  readonly conn: ConnInfo;
  /** On the target's server, so the template strategy is possible. */
  readonly sameServer: boolean;
  /**
   * Another server whose roles are this server's: main restored to a past moment (history). Its
   * grants and owners are carried as on the same server; a role dropped since is named.
   */
  readonly sameRoles?: boolean;
}

export interface StrategyOptions {
  /**
   * End the source's sessions for a template copy (`--disconnect`): an explicit opt-in for local
   * development. Without it ayb never disconnects anyone.
   */
  readonly disconnect?: boolean;
}

export function sourceNotFound(database: string): NotFoundError {
  return new NotFoundError('source_not_found', `source database "${database}" does not exist`, {
    hint: 'check the --from value',
  });
}

/**
 * Picks the strategy. `auto`: `template` when the source is on this server, nobody else is connected
 * to it, and this role may use it as a template; `dump` otherwise. It never disconnects anyone;
 * `disconnect` (which implies `template`) is the explicit opt-in for that.
 */
export async function chooseStrategy(maint: Client, source: CloneSource, requested: StrategyChoice, options: StrategyOptions = {}): Promise<CloneStrategy> {
  if (options.disconnect && requested === 'dump') {
    throw new UsageError('--disconnect applies to the template strategy, not to --strategy dump', {
      hint: 'drop --disconnect (a dump needs no exclusive access), or use --strategy template',
    });
  }
  if (requested === 'dump') return 'dump';
  if (!source.sameServer) {
    if (requested === 'template' || options.disconnect) {
      throw new UsageError(`${options.disconnect ? '--disconnect' : '--strategy template'} needs a source on the same server as the main database`, {
        hint: 'use --strategy dump (or auto) to clone from another server',
      });
    }
    return 'dump';
  }
  // One round trip for the three questions (exists, allowed, who is on it).
  const facts = await templateSourceFacts(maint, source.conn.database);
  if (!facts.exists) throw sourceNotFound(source.conn.database);
  if (requested === 'template' || options.disconnect) {
    if (!facts.allowed) {
      throw new ExternalError('template_not_permitted', `this role may not use "${source.conn.database}" as a template`, {
        hint: 'the role needs CREATEDB and must own the source (or be superuser); use --strategy dump instead',
      });
    }
    return 'template';
  }
  if (!facts.allowed) return 'dump';
  // ayb's own bookkeeping sessions on the source are let leave first (sessionsBlocking).
  return (await sessionsBlocking(maint, source.conn.database, facts.sessions)).length === 0 ? 'template' : 'dump';
}
