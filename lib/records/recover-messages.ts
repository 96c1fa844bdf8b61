import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Logger } from 'pino'
import { repairWavHeader, type WavRepair } from '../media/wav-repair.ts'
import type { CallStore, OpenMessage } from './types.ts'
import type { SqlDriver } from './sql.ts'
import { recoverCallRecordings } from './recover-call-recordings.ts'

/**
 * Day folders (`recordings/YYYY-MM-DD/`) scanned for files no row points at: a crash's
 * leftovers sit in the newest ones (a recording is filed under the day it started), and
 * reading every header of years of messages at each start-up would be slow for nothing.
 */
const DAYS_SCANNED = 2

export interface MessageRecovery {
  /** Open rows whose file held audio: header repaired, row marked `recovered`. */
  readonly recovered: number
  /** Open rows whose file was missing, not a WAV or empty: marked `lost`. */
  readonly lost: number
  /** Files no row points at (a recording that was not a message) whose header was repaired. */
  readonly orphansRepaired: number
}

/**
 * Start-up after a crash, for messages: every row still `recording` gets its WAV header fixed
 * from the file's length and is marked `recovered` (or `lost`), so the call record points at a
 * playable file; then WAVs in the newest day folders with wrong sizes are repaired too.
 *
 * Call it where `recoverInterrupted` is called (serve start-up, before taking calls), never from
 * a CLI command that may run beside a live server, which would settle its open rows. Repairing
 * a file that another process is still writing is harmless: its writer patches the header
 * again when it ends. Never throws for one bad file; each is logged and skipped.
 */
export async function recoverMessages (store: Pick<CallStore, 'openMessages' | 'settleMessage'> & { readonly sql?: SqlDriver }, recordingsDir: string, log: Logger): Promise<MessageRecovery> {
  // Whole-call recordings of calls the crash cut off (recover-call-recordings.ts) first.
  const settled = new Set<string>(store.sql === undefined ? [] : await recoverCallRecordings(store.sql, log).catch((err: unknown) => { log.error({ err }, 'could not look for call recordings left by the last run'); return [] }))
  let recovered = 0
  let lost = 0
  for (const message of await store.openMessages()) {
    const path = message.recordingPath
    if (path !== null) settled.add(resolve(path))
    const repair = path === null ? undefined : await tryRepair(path, log)
    const audio = repair !== undefined && repair.status !== 'not-wav' && repair.dataBytes > 0
    await settle(store, message, audio ? { status: 'recovered', durationMs: repair.durationMs } : { status: 'lost', durationMs: null }, log)
    if (audio) {
      recovered++
      log.warn({ call: message.callUuid, path, durationMs: repair.durationMs, header: repair.status }, 'message being recorded when the last run stopped recovered')
    } else {
      lost++
      log.warn({ call: message.callUuid, path, reason: repair?.status === 'not-wav' ? repair.reason : repair === undefined ? 'no file' : 'no audio' }, 'message being recorded when the last run stopped is lost')
    }
  }
  let orphansRepaired = 0
  for (const path of await newestRecordings(recordingsDir, log)) {
    if (settled.has(resolve(path))) continue
    const repair = await tryRepair(path, log)
    if (repair?.status === 'repaired') {
      orphansRepaired++
      log.info({ path, durationMs: repair.durationMs }, 'recording left unfinished by the last run repaired')
    }
  }
  return { recovered, lost, orphansRepaired }
}

async function tryRepair (path: string, log: Logger): Promise<WavRepair | undefined> {
  try {
    const repair = await repairWavHeader(path)
    if (repair.status === 'not-wav') log.warn({ path, reason: repair.reason }, 'file in the recordings directory is not a WAV; left alone')
    return repair
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err, path }, 'could not check a recording left by the last run')
    return undefined
  }
}

async function settle (store: Pick<CallStore, 'settleMessage'>, message: OpenMessage, outcome: Parameters<CallStore['settleMessage']>[1], log: Logger): Promise<void> {
  try {
    await store.settleMessage(message, outcome)
  } catch (err) {
    log.error({ err, call: message.callUuid, seq: message.seq }, 'could not update a message row left by the last run')
  }
}

/** `*.wav` in the newest day folders under `recordings/`; none when the folder does not exist yet. */
async function newestRecordings (recordingsDir: string, log: Logger): Promise<string[]> {
  const days = await readdir(recordingsDir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') log.warn({ err, dir: recordingsDir }, 'could not list the recordings directory')
    return []
  })
  const newest = days.filter((d) => d.isDirectory() && /^\d{4}-\d{2}-\d{2}$/.test(d.name)).map((d) => d.name).sort().slice(-DAYS_SCANNED)
  const files: string[] = []
  for (const day of newest) {
    const dir = join(recordingsDir, day)
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.isFile() && entry.name.endsWith('.wav')) files.push(join(dir, entry.name))
    }
  }
  return files
}
