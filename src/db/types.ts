// The small database interface both backends implement. SQL is written once, with `$1`-style
// parameters, in the subset SQLite and PostgreSQL share; the few differences are properties here.

export type Row = Record<string, unknown>;

export interface Queryable {
  /** The rows of one statement. */
  all<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs one statement; the number of rows it changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
}

export interface Db extends Queryable {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, password redacted: for messages and logs. */
  readonly where: string;
  /**
   * ' FOR UPDATE' on PostgreSQL (lock the rows read, so concurrent writers queue on them); '' on
   * SQLite, whose write transactions already exclude each other (BEGIN IMMEDIATE).
   */
  readonly forUpdate: string;
  /**
   * `fn` as one write transaction: committed when it resolves, rolled back when it throws or the
   * process dies. Inside it use `tx`, never the Db itself (on SQLite that would wait for itself).
   */
  write<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** `fn`'s reads see one consistent snapshot (no other writer's half-done work). */
  read<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** The newest migration applied. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}
