import { Writable } from 'node:stream'
import pino, { type Logger } from 'pino'

/** A pino logger whose records land in an array, to assert on whole log lines. */
export function logSink (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}
