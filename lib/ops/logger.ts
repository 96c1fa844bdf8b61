import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import { processScrubber, type SecretScrubber } from './scrub.ts'
import { maskNumber } from '../notify/mask.ts'
import { redactFields, type RedactRules } from './redact.ts'

/** Field names that hold secrets wherever they appear (config objects, provider options, errors). */
const SECRET_KEYS = [
  'apiKey', 'api_key', 'apikey', 'password', 'passwd', 'secret', 'token', 'accessToken', 'access_token',
  'refreshToken', 'refresh_token', 'clientSecret', 'client_secret', 'privateKey', 'private_key',
  'authorization', 'Authorization', 'connectionString', 'databaseUrl',
]
const SECRET_HEADERS = ['authorization', 'Authorization', 'cookie', '"x-api-key"', '"x-goog-api-key"', '"api-key"']

/**
 * The only pino `redact` paths: headers inside an error's request config (gaxios and openai
 * errors), reached after pino's error serializer has made the Error plain data, which the
 * field walk (redact.ts) does not enter. Exact paths are cheap; wildcard paths were ~250 µs a line.
 */
export const REDACT_PATHS: readonly string[] = SECRET_HEADERS.flatMap((h) => {
  const key = h.startsWith('"') ? `[${h}]` : `.${h}`
  return [`err.config.headers${key}`, `err.response.config.headers${key}`]
})

export const REDACT_CENSOR = '[redacted]'

/** Keys under which log records carry a caller's number (`privacy.maskCallerNumbers` masks them). */
const CALLER_NUMBER_KEYS = ['caller', 'callerNumber']

export interface LogPrivacy {
  /** Caller numbers logged as `+39••••••••67` (the same form the console and notifications show). */
  readonly maskCallerNumbers?: boolean | undefined
}

/** The censor for masked numbers beside the secrets; a value without digits (`withheld`) stays. */
function privacyCensor (value: unknown, key: string): unknown {
  if (!CALLER_NUMBER_KEYS.includes(key)) return REDACT_CENSOR
  return typeof value === 'string' && /\d{3}/.test(value) ? maskNumber(value) : value
}

/** Secret fields at any of four levels (the record and three below), headers in any `headers` object. */
function redactRules (privacy: LogPrivacy): RedactRules {
  const masking = privacy.maskCallerNumbers === true
  return {
    secretKeys: new Set(SECRET_KEYS),
    secretHeaders: new Set(SECRET_HEADERS.map((h) => h.replaceAll('"', '').toLowerCase())),
    shallowKeys: masking ? new Set(CALLER_NUMBER_KEYS) : undefined,
    maxDepth: 3,
    censor: masking ? privacyCensor : () => REDACT_CENSOR,
  }
}

/**
 * pino options the service uses; exported so the CLI and tests build loggers the same way.
 * Two layers: field names are redacted while the record is built (redact.ts), then the finished line is
 * scrubbed of anything secret-shaped (scrub.ts). The second runs as pino's `streamWrite` hook,
 * after serializers and formatters, so it also sees `err.message`, `err.stack`, child bindings
 * and values nested at any depth, and every destination (JSON, pretty, transcript) gets the
 * scrubbed line.
 */
export function loggerOptions (level: string, scrubber: SecretScrubber = processScrubber, privacy: LogPrivacy = {}): LoggerOptions {
  const rules = redactRules(privacy)
  return {
    level,
    formatters: {
      log: (record) => redactFields(record, rules),
      bindings: (bindings) => redactFields(bindings, rules),
    },
    redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
    base: { service: 'phone-agent' },
    hooks: { streamWrite: (line) => scrubber.scrub(line) },
  }
}

/** The root logger; per-call and per-turn children are made from it (`logger.child({ call, did })`). */
export function createLogger (level: string, destination?: DestinationStream, scrubber?: SecretScrubber, privacy?: LogPrivacy): Logger {
  return destination === undefined ? pino(loggerOptions(level, scrubber, privacy)) : pino(loggerOptions(level, scrubber, privacy), destination)
}
