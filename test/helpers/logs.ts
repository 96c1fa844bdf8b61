import { Writable } from 'node:stream'
import type { Logger } from 'pino'
import { createLogger } from '../../lib/ops/logger.ts'

export interface LogRecord { level: number, msg: string, [key: string]: unknown }

/** A pino logger whose records land in an array, so tests assert on whole records. */
export function captureLogs (level = 'debug'): { logger: Logger, records: LogRecord[] } {
  const records: LogRecord[] = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as LogRecord)
      done()
    },
  })
  return { logger: createLogger(level, sink), records }
}
