import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import { processScrubber, type SecretScrubber } from './scrub.ts'
import { maskNumber } from '../notify/mask.ts'

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

/** Keys under which log records carry a caller's number (`privacy.maskCallerNumbers` masks them). */
const CALLER_NUMBER_KEYS = ['caller', 'callerNumber']

export interface LogPrivacy {
  /** Caller numbers logged as `+39••••••••67` (the same form the console and notifications show). */
  readonly maskCallerNumbers?: boolean | undefined
}

/** The censor for masked numbers beside the secrets; a value without digits (`withheld`) stays. */
function privacyCensor (value: unknown, path: string[]): unknown {
  if (!CALLER_NUMBER_KEYS.includes(path[path.length - 1] ?? '')) return REDACT_CENSOR
  return typeof value === 'string' && /\d{3}/.test(value) ? maskNumber(value) : value
}

/**
 * pino options the service uses; exported so the CLI and tests build loggers the same way.
 * Two layers: field names are redacted while the record is built, then the finished line is
 * scrubbed of anything secret-shaped (scrub.ts). The second runs as pino's `streamWrite` hook,
 * after serializers and formatters, so it also sees `err.message`, `err.stack`, child bindings
 * and values nested at any depth, and every destination (JSON, pretty, transcript) gets the
 * scrubbed line.
 */
export function loggerOptions (level: string, scrubber: SecretScrubber = processScrubber, privacy: LogPrivacy = {}): LoggerOptions {
  const numbers = privacy.maskCallerNumbers === true ? CALLER_NUMBER_KEYS.flatMap((k) => [k, `*.${k}`]) : []
  return {
    level,
    redact: { paths: [...REDACT_PATHS, ...numbers], censor: numbers.length === 0 ? REDACT_CENSOR : privacyCensor },
    base: { service: 'phone-agent' },
    hooks: { streamWrite: (line) => scrubber.scrub(line) },
  }
}

/** The root logger; per-call and per-turn children are made from it (`logger.child({ call, did })`). */
export function createLogger (level: string, destination?: DestinationStream, scrubber?: SecretScrubber, privacy?: LogPrivacy): Logger {
  return destination === undefined ? pino(loggerOptions(level, scrubber, privacy)) : pino(loggerOptions(level, scrubber, privacy), destination)
}
