import type { Logger } from 'pino'
import { PhoneAgentError } from '../errors.ts'
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations.ts'
import type { WriteSink } from './recorder.ts'
import { RecordingCallRecorder } from './recording-recorder.ts'
import {
  activityStatements, GET_CALL, GET_ERRORS, GET_LATENCY, GET_MESSAGES, GET_TURNS, listStatement, openMessagesStatement, opStatements,
  recoverStatement, interruptStatement, SETTLE_MESSAGE, toDetail, toOpenMessage, toSummary, type SqlDriver, type WriteOp,
} from './sql.ts'
import type { CallDetail, CallFilter, CallObserver, CallRecorder, CallStart, CallStore, CallSummary, OpenMessage } from './types.ts'

export interface SqlCallStoreOptions {
  readonly driver: SqlDriver
  /** Written on every record; PostgreSQL recovery only touches this instance's records. */
  readonly instance: string
  readonly logger: Logger
  readonly observer?: CallObserver | undefined
  /** Writes held while storage is slow or down; beyond this they are dropped and logged. */
  readonly maxQueuedWrites?: number | undefined
  readonly maxBatch?: number | undefined
  readonly now?: (() => number) | undefined
}

interface Pending {
  readonly op: WriteOp | undefined
  readonly done: (() => void) | undefined
}

/**
 * Runs migrations, then returns a store whose recorders share one write queue. The queue is
 * drained one batch (one transaction) at a time, so writes of one call commit in the order
 * they were made and many concurrent calls cost one transaction per event-loop turn.
 */
export async function openSqlCallStore (options: SqlCallStoreOptions): Promise<CallStore> {
  const { driver, logger } = options
  try {
    const applied = await driver.migrate(MIGRATIONS)
    if (applied.length > 0) logger.info({ applied, driver: driver.dialect }, 'call record schema migrated')
    const rows = await driver.all('SELECT MAX(version) AS version FROM schema_migrations', [])
    const version = Number(rows[0]?.version ?? 0)
    if (version > LATEST_SCHEMA_VERSION) {
      throw new PhoneAgentError('CONFIG_INVALID', `config: records: the database schema is version ${version}, ` +
        `newer than this phone-agent knows (${LATEST_SCHEMA_VERSION}); upgrade phone-agent or point it at another database`)
    }
  } catch (err) {
    await driver.close().catch(() => {})
    throw err
  }
  return new SqlCallStore(options)
}

class SqlCallStore implements CallStore, WriteSink {
  readonly driver: 'sqlite' | 'postgres'
  readonly #sql: SqlDriver
  readonly #instance: string
  readonly #log: Logger
  readonly #observer: CallObserver | undefined
  readonly #maxQueued: number
  readonly #maxBatch: number
  readonly #now: () => number
  #pending: Pending[] = []
  #scheduled: NodeJS.Immediate | undefined
  #draining: Promise<void> | undefined
  #dropped = 0
  #closed = false
  readonly #stopRetrying = new AbortController()

  constructor (options: SqlCallStoreOptions) {
    this.driver = options.driver.dialect
    this.#sql = options.driver
    this.#instance = options.instance
    this.#log = options.logger
    this.#observer = options.observer
    this.#maxQueued = options.maxQueuedWrites ?? 10_000
    this.#maxBatch = options.maxBatch ?? 500
    this.#now = options.now ?? Date.now
  }

  get sql (): SqlDriver {
    return this.#sql
  }

  begin (start: CallStart): CallRecorder {
    return new RecordingCallRecorder(start, {
      sink: this, instance: this.#instance, logger: this.#log, observer: this.#observer, now: this.#now,
    })
  }

  enqueue (op: WriteOp, done?: () => void): void {
    if (this.#closed) {
      this.#log.warn({ call: op.uuid, kind: op.kind }, 'call record write after store close dropped')
      done?.()
      return
    }
    if (this.#pending.length >= this.#maxQueued) {
      // Storage is down or far too slow: holding writes forever would only move the failure
      // to memory. The dropped calls stay open and become `interrupted` at next start-up.
      if (this.#dropped++ % 1000 === 0) {
        this.#log.error({ call: op.uuid, kind: op.kind, dropped: this.#dropped, queued: this.#pending.length }, 'call record queue full; writes dropped')
      }
      this.#failed()
      done?.()
      return
    }
    this.#pending.push({ op, done })
    this.#schedule()
  }

  flush (): Promise<void> {
    if (this.#pending.length === 0 && this.#draining === undefined) return Promise.resolve()
    // A barrier: it resolves after everything queued before it, since batches keep order.
    return new Promise((resolve) => {
      this.#pending.push({ op: undefined, done: resolve })
      this.#schedule()
    })
  }

  async recoverInterrupted (): Promise<number> {
    // SQLite has one server per file; PostgreSQL is shared, and another instance's open
    // records may be live calls.
    const st = recoverStatement(this.driver === 'sqlite' ? undefined : this.#instance)
    const count = await this.#sql.run(st.sql, st.params)
    if (count > 0) this.#log.warn({ count, instance: this.#instance }, 'call records left open by a previous run marked interrupted')
    return count
  }

  async interruptCalls (uuids: readonly string[]): Promise<number> {
    let count = 0
    for (const uuid of uuids) {
      const st = interruptStatement(uuid)
      count += await this.#sql.run(st.sql, st.params)
    }
    return count
  }

  async openMessages (): Promise<OpenMessage[]> {
    const st = openMessagesStatement(this.driver === 'sqlite' ? undefined : this.#instance)
    return (await this.#sql.all(st.sql, st.params)).map(toOpenMessage)
  }

  async settleMessage (message: OpenMessage, outcome: { readonly status: 'recovered' | 'lost', readonly durationMs: number | null }): Promise<void> {
    const duration = outcome.durationMs === null ? null : Math.round(outcome.durationMs)
    await this.#sql.run(SETTLE_MESSAGE, [outcome.status, duration, message.callUuid, message.seq])
  }

  async list (filter: CallFilter = {}): Promise<CallSummary[]> {
    const st = listStatement(filter)
    return (await this.#sql.all(st.sql, st.params)).map(toSummary)
  }

  async get (uuid: string): Promise<CallDetail | undefined> {
    const [call] = await this.#sql.all(GET_CALL, [uuid])
    if (call === undefined) return undefined
    const [turns, latency, messages, errors] = await Promise.all(
      [GET_TURNS, GET_LATENCY, GET_MESSAGES, GET_ERRORS].map(async (sql) => await this.#sql.all(sql, [uuid])))
    return toDetail(call, turns ?? [], latency ?? [], messages ?? [], errors ?? [])
  }

  async close (): Promise<void> {
    if (this.#closed) return
    // Give pending writes one last try each; a database that is down now will not come back
    // while we wait to exit.
    this.#stopRetrying.abort()
    await this.flush()
    this.#closed = true
    await this.#sql.close()
  }

  #schedule (): void {
    if (this.#scheduled !== undefined || this.#draining !== undefined) return
    // setImmediate, not a timer: everything queued in this turn of the event loop commits
    // together, and a begin() reaches disk before the call can do anything slow.
    this.#scheduled = setImmediate(() => {
      this.#scheduled = undefined
      this.#draining = this.#drain().finally(() => {
        this.#draining = undefined
        // Writes queued by code that resumed on a `done()` of the last batch found the drain
        // still running and did not schedule one.
        if (this.#pending.length > 0) this.#schedule()
      })
    })
  }

  async #drain (): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch)
      const ops = batch.flatMap((p) => p.op === undefined ? [] : [p.op])
      try {
        if (ops.length > 0) await this.#apply(ops)
      } catch (err) {
        // #apply handles storage errors; this is a bug. Nobody awaits the drain, so a throw
        // here would be an unhandled rejection that takes the whole server down.
        for (const op of ops) this.#logFailure(op, err)
      }
      for (const p of batch) p.done?.()
    }
  }

  async #apply (ops: readonly WriteOp[]): Promise<void> {
    const statements = [...ops.flatMap(opStatements), ...activityStatements(ops)]
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#sql.transaction(statements)
        if (attempt > 0) this.#log.info({ attempts: attempt + 1 }, 'call record storage reachable again')
        return
      } catch (err) {
        if (this.#sql.isConnectionError(err) && !this.#stopRetrying.signal.aborted) {
          // A database restart must not cost the calls in progress their records: keep the
          // batch at the head of the queue and retry; the queue bound caps memory meanwhile.
          if (attempt === 0) this.#log.warn({ err, writes: ops.length }, 'call record storage unreachable; retrying')
          await sleep(Math.min(250 * 2 ** attempt, 10_000), this.#stopRetrying.signal)
          continue
        }
        if (ops.length === 1 || this.#sql.isConnectionError(err)) {
          for (const op of ops) this.#logFailure(op, err)
          return
        }
        this.#log.warn({ err, writes: ops.length }, 'call record batch failed; retrying writes one by one')
        break
      }
    }
    // One bad write (a constraint, an unexpected value) must not take the rest of the batch with it.
    for (const op of ops) {
      try {
        await this.#sql.transaction([...opStatements(op), ...activityStatements([op])])
      } catch (err) {
        this.#logFailure(op, err)
      }
    }
  }

  #logFailure (op: WriteOp | undefined, err: unknown): void {
    this.#log.error({ err, call: op?.uuid, kind: op?.kind }, 'call record write failed')
    this.#failed()
  }

  #failed (): void {
    try {
      this.#observer?.recordWriteFailed()
    } catch { /* metrics must not break the write path */ }
  }
}

/** Resolves after `ms`, or at once when the signal aborts; never rejects. */
function sleep (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
