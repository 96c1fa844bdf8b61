import { Writable } from 'node:stream'
import type { DestinationStream, Logger } from 'pino'
import type { build } from 'pino-pretty'
import { LazyPackage } from '../lazy-package.ts'
import { createLogger, type LogPrivacy } from '../ops/logger.ts'

/**
 * Where the CLI's logs go. JSON lines for machines (systemd's journal, a log shipper, a pipe),
 * pino-pretty's readable lines for a person at a terminal. `PHONE_AGENT_LOG_FORMAT=json|pretty`
 * overrides the guess. The level is the config's `logging.level` unless `PHONE_AGENT_LOG_LEVEL`
 * says otherwise (a quick `PHONE_AGENT_LOG_LEVEL=debug phone-agent serve`).
 */

/** Loaded only for a person at a terminal: JSON output, every test and pipe included, never needs it. */
const PINO_PRETTY = new LazyPackage<{ build: typeof build }>('pino-pretty')

export type LogFormat = 'json' | 'pretty'

export function logFormat (stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): LogFormat {
  const wanted = env.PHONE_AGENT_LOG_FORMAT
  if (wanted === 'json' || wanted === 'pretty') return wanted
  return stream.isTTY === true ? 'pretty' : 'json'
}

export function logLevel (configured: string, env: NodeJS.ProcessEnv): string {
  return env.PHONE_AGENT_LOG_LEVEL ?? configured
}

/** The service's logger for `serve`: pretty on a terminal, JSON otherwise. */
export function serviceLogger (configured: string, env: NodeJS.ProcessEnv = process.env, stream: NodeJS.WriteStream = process.stdout, privacy?: LogPrivacy): Logger {
  const level = logLevel(configured, env)
  if (logFormat(stream, env) === 'json') return createLogger(level, undefined, undefined, privacy)
  const pretty = PINO_PRETTY.get().build({ colorize: stream.isTTY === true, sync: true, destination: stream, ignore: 'pid,hostname,service', translateTime: 'SYS:HH:MM:ss.l' })
  return createLogger(level, pretty as unknown as DestinationStream, undefined, privacy)
}

/**
 * For `phone-agent call`: log records become transcript lines (`[ 3.20 s] log   : message
 * recorded path=...`). Records of a call (they carry `call`) are shown from the configured level,
 * everything else from warn, so the server's start-up chatter does not bury the conversation
 * while a script's `call.log.info(...)` is seen. JSON when PHONE_AGENT_LOG_FORMAT=json.
 */
export function transcriptLogger (configured: string, print: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Logger {
  const level = logLevel(configured, env)
  const json = env.PHONE_AGENT_LOG_FORMAT === 'json'
  const warnLevel = 40
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue
        let record: Record<string, unknown>
        try { record = JSON.parse(line) as Record<string, unknown> } catch { continue }
        const recordLevel = typeof record.level === 'number' ? record.level : 30
        if (record.call === undefined && recordLevel < warnLevel && !['debug', 'trace'].includes(level)) continue
        print(json ? line : `${levelLabel(recordLevel)}: ${transcriptLine(record)}`)
      }
      done()
    },
  })
  return createLogger(level, sink as unknown as DestinationStream)
}

/** Fields the transcript already shows (or that only a machine wants). */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'service', 'call', 'did', 'msg'])

/** `message recorded path=/x.wav durationMs=1500`: the message, then the data, one line. */
export function transcriptLine (record: Record<string, unknown>): string {
  const parts = [typeof record.msg === 'string' ? record.msg : '']
  for (const [key, value] of Object.entries(record)) {
    if (HIDDEN.has(key) || value === undefined) continue
    const err = value as { message?: unknown, code?: unknown }
    const text = key === 'err' && typeof err === 'object' && err !== null
      ? `${typeof err.code === 'string' ? `${err.code}: ` : ''}${String(err.message)}`
      : typeof value === 'string' ? value : JSON.stringify(value)
    parts.push(`${key}=${text.replace(/\s+/g, ' ')}`)
  }
  return parts.join('  ')
}

function levelLabel (level: number): string {
  if (level >= 50) return 'error '
  if (level >= 40) return 'warn  '
  return 'log   '
}
