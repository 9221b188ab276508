/** One statement of a migration, without its trailing semicolon. */
export interface MigrationStatement {
  readonly sql: string;
  /** Set when the statement can lose data: says what. Rendered as `-- destructive: …`. */
  readonly destructive?: string;
  /** Why the statement is there when it is not the change itself (a dependent object rebuilt). */
  readonly note?: string;
  /**
   * Set when ayb cannot write the statement that applies: says what to do by hand. Rendered as a
   * `-- manual: …` comment in place of SQL (`sql` is empty); `diff --output sql` then exits 1.
   */
  readonly manual?: string;
}

/** True when the migration has steps only a person can write. */
export function needsManualSteps(statements: readonly MigrationStatement[]): boolean {
  return statements.some((statement) => statement.manual !== undefined);
}
