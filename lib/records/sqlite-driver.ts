import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { PhoneAgentError } from '../errors.ts'
import { SCHEMA_MIGRATIONS_TABLE, type Migration } from './migrations.ts'
import type { Row, SqlDriver, SqlValue, Statement } from './sql.ts'

/**
 * better-sqlite3 is synchronous: every call blocks the event loop, so the store keeps writes
 * batched (one transaction per event-loop turn) and this driver stays a thin wrapper.
 */
export function openSqliteDriver (path: string): SqlDriver {
  let db: Database.Database
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    db = new Database(path)
    // WAL lets `phone-agent calls` read while the server writes. synchronous=NORMAL in WAL
    // mode survives a process crash (the case we care about: the record must exist); only an
    // OS crash or power loss can lose the last transactions.
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    // The CLI and the server share the file; wait for a brief lock instead of failing.
    db.pragma('busy_timeout = 5000')
  } catch (err) {
    throw new PhoneAgentError('CONFIG_INVALID', `config: records.dataDir: cannot open the SQLite database ${path}: ${(err as Error).message}`, { cause: err })
  }

  const cache = new Map<string, Database.Statement>()
  const prepare = (sql: string): Database.Statement => {
    let stmt = cache.get(sql)
    if (stmt === undefined) {
      stmt = db.prepare(sql)
      cache.set(sql, stmt)
    }
    return stmt
  }
  const runAll = db.transaction((statements: readonly Statement[]) => {
    for (const st of statements) prepare(st.sql).run(...st.params)
  })

  return {
    dialect: 'sqlite',
    async transaction (statements) {
      runAll.immediate(statements)
    },
    async all (sql: string, params: readonly SqlValue[]) {
      return prepare(sql).all(...params) as Row[]
    },
    async run (sql: string, params: readonly SqlValue[]) {
      return prepare(sql).run(...params).changes
    },
    async migrate (migrations: readonly Migration[]) {
      db.exec(SCHEMA_MIGRATIONS_TABLE)
      const applied: number[] = []
      const applyOne = db.transaction((m: Migration) => {
        // Checked inside the write transaction so two processes opening the file at once
        // cannot both apply the same migration.
        if (db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version) !== undefined) return false
        for (const sql of m.statements) db.exec(sql)
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now())
        return true
      })
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (applyOne.immediate(m)) applied.push(m.version)
      }
      return applied
    },
    // A local file: lock waits are handled by busy_timeout, and a full or broken disk will not
    // recover by retrying.
    isConnectionError: () => false,
    async close () {
      cache.clear()
      if (db.open) db.close()
    },
  }
}
