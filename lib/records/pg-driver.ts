import type pg from 'pg'
import { LazyPackage } from '../lazy-package.ts'
import { SCHEMA_MIGRATIONS_TABLE, type Migration } from './migrations.ts'
import type { Row, SqlDriver, SqlValue, Statement } from './sql.ts'

/** Any constant: it only has to be the same in every instance sharing the database. */
const MIGRATION_LOCK_KEY = 7_004_001

const INT8_OID = 20

/** Only a deployment that keeps its records in PostgreSQL loads the client (lazy-package.ts). */
const PG = new LazyPackage<typeof pg>('pg')

/**
 * Our BIGINTs are epoch milliseconds and counters, far below 2^53; pg returns int8 as a string
 * by default to be safe for larger values. The parser is set per pool, not globally, so other
 * pg users in the process are unaffected.
 */
const types = {
  getTypeParser: ((oid: number, format?: string) => oid === INT8_OID && format !== 'binary'
    ? (v: string) => Number(v)
    : PG.get().types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
}

export function numberPlaceholders (sql: string): string {
  let i = 0
  return sql.replace(/\?/g, () => `$${++i}`)
}

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

/**
 * Errors the server answered with carry a SQLSTATE; its classes 08 (connection exception), 57
 * (operator intervention: shutdown, restart) and 53 (insufficient resources) pass with time.
 * Socket failures carry an errno code, and pg's own connection failures only a message (see
 * pg/lib/client.js and pg-pool/index.js). Anything else is a bug or bad data: retrying it
 * forever would stall every call's records, so it is not a connection error.
 */
export function isPgConnectionError (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && 'severity' in err) {
    return code.startsWith('08') || code.startsWith('57') || code.startsWith('53')
  }
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return true
  return /Connection terminated|timeout exceeded when trying to connect|connection error|Client was closed/i.test(err.message)
}

export interface PgDriverOptions {
  readonly connectionString: string
  readonly poolMax: number
  /** An idle pooled connection failed (server restart); pg would otherwise crash the process. */
  readonly onIdleError: (err: Error) => void
}

export function openPgDriver (options: PgDriverOptions): SqlDriver {
  const pool = new (PG.get().Pool)({
    connectionString: options.connectionString,
    max: options.poolMax,
    types,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: true,
    application_name: 'phone-agent',
  })
  pool.on('error', options.onIdleError)

  const inTransaction = async <T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => { broken = rollbackErr })
      throw err
    } finally {
      // A connection that failed to roll back is in an unknown state: destroy, do not reuse.
      client.release(broken)
    }
  }

  return {
    dialect: 'postgres',
    async transaction (statements: readonly Statement[]) {
      await inTransaction(async (client) => {
        for (const st of statements) await client.query(numberPlaceholders(st.sql), st.params as SqlValue[])
      })
    },
    async all (sql: string, params: readonly SqlValue[]) {
      const res = await pool.query(numberPlaceholders(sql), params as SqlValue[])
      return res.rows as Row[]
    },
    async run (sql: string, params: readonly SqlValue[]) {
      const res = await pool.query(numberPlaceholders(sql), params as SqlValue[])
      return res.rowCount ?? 0
    },
    async migrate (migrations: readonly Migration[]) {
      // Several instances may start together: the advisory lock (released at COMMIT) makes them
      // take turns, and each re-checks the version once it holds the lock.
      await inTransaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
        await client.query(SCHEMA_MIGRATIONS_TABLE)
      })
      const applied: number[] = []
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        const done = await inTransaction(async (client) => {
          await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
          const seen = await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version])
          if ((seen.rowCount ?? 0) > 0) return false
          for (const sql of m.statements) await client.query(sql)
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()])
          return true
        })
        if (done) applied.push(m.version)
      }
      return applied
    },
    isConnectionError: isPgConnectionError,
    async close () {
      await pool.end()
    },
  }
}
