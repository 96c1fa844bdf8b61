import { resolve } from 'node:path'
import type { Logger } from 'pino'
import { repairWavHeader } from '../media/wav-repair.ts'
import type { SqlDriver } from './sql.ts'

/**
 * Start-up after a crash, for whole-call recordings: a call whose record was ended by recovery
 * (`interrupted`) while its recording had no length yet gets the WAV's header repaired from the
 * file's length and the length stored; a path with no file (the call died before recording
 * started) is cleared on SQLite. On PostgreSQL another instance's file may live on another
 * host, so a missing file is left alone there. Returns the paths looked at (the orphan scan
 * of recover-messages skips them). Never throws for one bad file.
 */
export async function recoverCallRecordings (sql: SqlDriver, log: Logger): Promise<string[]> {
  const rows = await sql.all(`SELECT uuid, recording_path FROM calls
    WHERE recording_path IS NOT NULL AND recording_ms IS NULL AND outcome IS NOT NULL`, [])
  const seen: string[] = []
  for (const row of rows) {
    const uuid = String(row.uuid)
    const path = String(row.recording_path)
    seen.push(resolve(path))
    try {
      const repair = await repairWavHeader(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined
        throw err
      })
      if (repair === undefined || (repair.status !== 'not-wav' && repair.dataBytes === 0)) {
        if (sql.dialect === 'sqlite') await sql.run('UPDATE calls SET recording_path = NULL WHERE uuid = ?', [uuid])
        log.info({ call: uuid, path }, 'call recording of the last run held no audio; the record no longer points at it')
      } else if (repair.status === 'not-wav') {
        log.warn({ call: uuid, path, reason: repair.reason }, 'call recording of the last run is not a WAV; left alone')
      } else {
        await sql.run('UPDATE calls SET recording_ms = ? WHERE uuid = ?', [repair.durationMs, uuid])
        log.warn({ call: uuid, path, durationMs: repair.durationMs, header: repair.status }, 'call being recorded when the last run stopped: recording recovered')
      }
    } catch (err) {
      log.warn({ err, call: uuid, path }, 'could not check a call recording left by the last run')
    }
  }
  return seen
}
