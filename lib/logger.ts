import { pino, type Logger, type DestinationStream } from 'pino'

/** Keys that may carry secrets anywhere in a log object. */
export const REDACT_PATHS = [
  'apiKey', '*.apiKey', 'password', '*.password', 'authorization', '*.authorization',
  'headers.authorization', '*.headers.authorization', 'credentials', '*.credentials',
]

/** The process logger; calls and turns get children of it (`{call, did}`, `{turn}`). */
export function createLogger (level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'phone-agent' } }
  return destination ? pino(options, destination) : pino(options)
}
