import type { Logger } from 'pino'
import { captureLogs } from '../helpers/logs.ts'

/** A pino logger whose records land in an array, to assert on whole log lines. */
export function logSink (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const { logger, records } = captureLogs('info')
  return { logger, lines: records }
}
