import { unlink } from 'node:fs/promises'
import { isAbsolute, relative, resolve } from 'node:path'
import type { Logger } from 'pino'
import { callFiles, callsToDelete, callsToPurge, deleteStatements, purgeStatements } from '../records/owner-sql.ts'
import type { SqlDriver } from '../records/sql.ts'
import type { RetentionConfig } from './config.ts'

const DAY_MS = 86_400_000
const BATCH = 100

export interface RetentionOptions {
  readonly sql: SqlDriver
  readonly config: RetentionConfig
  /** Files are deleted only from under here (`<media.soundsDir>/recordings`). */
  readonly recordingsDir: string
  readonly logger: Logger
  readonly now?: (() => number) | undefined
}

export interface RetentionRun {
  /** Calls whose audio and transcripts were deleted (the row stays, `purged_at` set). */
  readonly purged: number
  /** Calls deleted entirely (`recordsDays`). */
  readonly deleted: number
  readonly filesDeleted: number
}

/**
 * Deletes what the owner chose not to keep: past `retention.days` a call's audio files (every
 * file its rows point at: message recordings today, the whole-call recording once recorded)
 * and its transcripts go, and the record says when; past `retention.recordsDays` the record
 * goes too. Runs at start and every `intervalMinutes` on an unref'd timer; `run()` is what the
 * timer calls (tests drive it with a fake clock). A file that cannot be deleted (other than
 * already gone) keeps its call for the next run rather than leaving audio without a record.
 */
export class RetentionService {
  readonly #o: RetentionOptions
  readonly #now: () => number
  #timer: NodeJS.Timeout | undefined
  #running: Promise<RetentionRun> | undefined

  constructor (options: RetentionOptions) {
    this.#o = options
    this.#now = options.now ?? Date.now
  }

  get enabled (): boolean {
    return this.#o.config.days !== undefined || this.#o.config.recordsDays !== undefined
  }

  start (): void {
    if (!this.enabled) return
    const tick = (): void => {
      this.#running ??= this.run().catch((err: unknown) => {
        this.#o.logger.error({ err }, 'retention run failed; trying again at the next interval')
        return { purged: 0, deleted: 0, filesDeleted: 0 }
      }).finally(() => { this.#running = undefined })
    }
    tick()
    this.#timer = setInterval(tick, this.#o.config.intervalMinutes * 60_000)
    this.#timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#running
  }

  async run (): Promise<RetentionRun> {
    const { days, recordsDays } = this.#o.config
    const now = this.#now()
    let filesDeleted = 0
    let purged = 0
    let deleted = 0
    if (recordsDays !== undefined) {
      const r = await this.#sweep(await this.#all((limit, skip) => callsToDelete(this.#o.sql, now - recordsDays * DAY_MS, limit + skip)), deleteStatements)
      deleted = r.calls
      filesDeleted += r.files
    }
    if (days !== undefined) {
      const r = await this.#sweep(await this.#all((limit, skip) => callsToPurge(this.#o.sql, now - days * DAY_MS, limit + skip)), (uuid) => purgeStatements(uuid, now))
      purged = r.calls
      filesDeleted += r.files
    }
    if (purged + deleted > 0) this.#o.logger.info({ purged, deleted, filesDeleted }, 'retention: old call content deleted')
    return { purged, deleted, filesDeleted }
  }

  /** Every matching uuid, read in batches (a first run may face years of calls). */
  async #all (query: (limit: number, skip: number) => Promise<string[]>): Promise<string[]> {
    const seen: string[] = []
    for (;;) {
      const batch = (await query(BATCH, seen.length)).slice(seen.length)
      seen.push(...batch)
      if (batch.length < BATCH) return seen
    }
  }

  async #sweep (uuids: readonly string[], statements: (uuid: string) => ReturnType<typeof purgeStatements>): Promise<{ calls: number, files: number }> {
    let calls = 0
    let files = 0
    for (const uuid of uuids) {
      const removed = await this.#deleteFiles(uuid)
      if (removed === undefined) continue
      files += removed
      await this.#o.sql.transaction(statements(uuid))
      calls++
    }
    return { calls, files }
  }

  /** Files deleted, or undefined when one could not be (the call waits for the next run). */
  async #deleteFiles (uuid: string): Promise<number | undefined> {
    let n = 0
    for (const path of await callFiles(this.#o.sql, uuid)) {
      const rel = relative(resolve(this.#o.recordingsDir), resolve(path))
      if (rel.startsWith('..') || isAbsolute(rel)) {
        // Never delete outside our recordings, whatever a row says; the row is cleared anyway.
        this.#o.logger.warn({ call: uuid, path }, 'retention: a recording outside the recordings directory left in place')
        continue
      }
      try {
        await unlink(path)
        n++
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        this.#o.logger.error({ err, call: uuid, path }, 'retention: recording could not be deleted; the call keeps its content until the next run')
        return undefined
      }
    }
    return n
  }
}
