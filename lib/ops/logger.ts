import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import { processScrubber, type SecretScrubber } from './scrub.ts'

/** Field names that hold secrets wherever they appear (config objects, provider options, errors). */
const SECRET_KEYS = [
  'apiKey', 'api_key', 'apikey', 'password', 'passwd', 'secret', 'token', 'accessToken', 'access_token',
  'refreshToken', 'refresh_token', 'clientSecret', 'client_secret', 'privateKey', 'private_key',
  'authorization', 'Authorization', 'connectionString', 'databaseUrl',
]
const SECRET_HEADERS = ['authorization', 'Authorization', 'cookie', '"x-api-key"', '"x-goog-api-key"', '"api-key"']

/**
 * pino redaction paths. fast-redact wildcards match one level each, so keys are listed at the
 * top level and up to three levels down, and headers where HTTP clients keep them (request
 * objects, and gaxios/openai errors that carry the request config).
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]),
  ...SECRET_HEADERS.flatMap((h) => {
    const key = h.startsWith('"') ? `[${h}]` : `.${h}`
    return [`headers${key}`, `*.headers${key}`, `*.*.headers${key}`, `err.config.headers${key}`, `err.response.config.headers${key}`]
  }),
]

export const REDACT_CENSOR = '[redacted]'

/**
 * pino options the service uses; exported so the CLI and tests build loggers the same way.
 * Two layers: field names are redacted while the record is built, then the finished line is
 * scrubbed of anything secret-shaped (scrub.ts). The second runs as pino's `streamWrite` hook,
 * after serializers and formatters, so it also sees `err.message`, `err.stack`, child bindings
 * and values nested at any depth, and every destination (JSON, pretty, transcript) gets the
 * scrubbed line.
 */
export function loggerOptions (level: string, scrubber: SecretScrubber = processScrubber): LoggerOptions {
  return {
    level,
    redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
    base: { service: 'phone-agent' },
    hooks: { streamWrite: (line) => scrubber.scrub(line) },
  }
}

/** The root logger; per-call and per-turn children are made from it (`logger.child({ call, did })`). */
export function createLogger (level: string, destination?: DestinationStream, scrubber?: SecretScrubber): Logger {
  return destination === undefined ? pino(loggerOptions(level, scrubber)) : pino(loggerOptions(level, scrubber), destination)
}
