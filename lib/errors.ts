/**
 * The closed set of errors this project throws on purpose.
 *
 * Every error has a stable `code` (listed in README "Error codes"; a test keeps the list and
 * the README in step), a human `message`, an optional `cause`, and a class: `transient`
 * (worth retrying or falling back: a provider timed out, a socket reset) or `permanent`
 * (retrying cannot help: bad credentials, a bad config, the caller hung up).
 * Call loops decide continue / fall back / hang up from `code` and `transient`, never from
 * message text.
 */

export type ErrorClass = 'transient' | 'permanent'

interface ErrorSpec {
  readonly class: ErrorClass
  readonly summary: string
}

/** Code -> class and one-line summary. Adding a code means adding a README row too. */
export const ERROR_CODES = {
  CONFIG_INVALID: { class: 'permanent', summary: 'The config file or an environment variable is missing or wrong; the message names the field.' },
  CALL_HANGUP: { class: 'permanent', summary: 'The caller hung up (or the channel was hung up) while a verb was running.' },
  CALL_ABORTED: { class: 'permanent', summary: 'The call was cancelled by us (shutdown, maximum duration) while a verb was running.' },
  // Aborts inside a call that does not end: each has its own code, so "is the call over?" is
  // asked of the call's signal, never inferred from one of these.
  BARGE_IN: { class: 'permanent', summary: 'The caller spoke over the agent: the reply was cut where they came in; the call goes on.' },
  OPERATOR_KEY: { class: 'permanent', summary: 'The caller pressed the operator key: what was running stopped and the call goes to a person.' },
  TURN_OVER: { class: 'permanent', summary: 'A turn ended or was abandoned; work it had started (a request, a recognition) was cancelled.' },
  ESL_SOCKET_CLOSED: { class: 'permanent', summary: 'The Event Socket connection closed while a command or event wait was pending.' },
  ESL_TIMEOUT: { class: 'transient', summary: 'FreeSWITCH did not reply to a command or finish an application within its timeout.' },
  ESL_COMMAND_FAILED: { class: 'permanent', summary: 'FreeSWITCH answered a command with -ERR.' },
  ESL_PROTOCOL: { class: 'permanent', summary: 'FreeSWITCH sent something we cannot use (connect reply missing the channel UUID, malformed frame).' },
  UNSAFE_VALUE: { class: 'permanent', summary: 'A value bound for an ESL command, a file path or a shell contains control characters or other unsafe text; it was not sent.' },
  ROUTE_NOT_FOUND: { class: 'permanent', summary: 'No call script is configured for the dialled number and there is no default route.' },
  SCRIPT_LOAD_FAILED: { class: 'permanent', summary: 'A call script module could not be loaded or does not export defineScript(...).' },
  SCRIPT_FAILED: { class: 'permanent', summary: 'A call script threw; the caller heard an apology and the call was ended.' },
  TRANSFER_TARGET_UNKNOWN: { class: 'permanent', summary: 'A transfer named a target that is not in the config (raw numbers are never dialled).' },
  TTS_FAILED: { class: 'transient', summary: 'Speech synthesis failed.' },
  MEDIA_INVALID: { class: 'permanent', summary: 'An audio file is missing, unreadable or not the expected format.' },
  MEDIA_STREAM_FAILED: { class: 'permanent', summary: "FreeSWITCH never streamed the call's audio after `unicast`, asked twice from two ports; the call was ended and the message says what to check." },
  // Providers (STT, LLM, TTS). Transient ones are retried within the caller's deadline.
  PROVIDER_TIMEOUT: { class: 'transient', summary: 'A provider did not answer within the deadline (HTTP timeout, gRPC DEADLINE_EXCEEDED).' },
  PROVIDER_RATE_LIMITED: { class: 'transient', summary: 'A provider refused for load (HTTP 429, gRPC RESOURCE_EXHAUSTED).' },
  PROVIDER_UNAVAILABLE: { class: 'transient', summary: 'A provider failed on its side or the connection broke (HTTP 5xx, gRPC UNAVAILABLE, socket reset).' },
  PROVIDER_AUTH: { class: 'permanent', summary: 'A provider refused our credentials (HTTP 401/403, gRPC UNAUTHENTICATED/PERMISSION_DENIED).' },
  PROVIDER_BAD_REQUEST: { class: 'permanent', summary: 'A provider rejected the request as malformed (HTTP 400/404/422, gRPC INVALID_ARGUMENT).' },
  PROVIDER_BAD_RESPONSE: { class: 'transient', summary: 'A provider answered with something we cannot use (truncated stream, malformed JSON, empty audio).' },
  // Admission and outbound protection.
  ADMISSION_REJECTED: { class: 'permanent', summary: 'A call was refused before answering (anonymous caller, blocked prefix, rate limit, capacity); the record names the reason.' },
  DIAL_BLOCKED: { class: 'permanent', summary: 'A number was refused for dialling (premium/special-rate, satellite, country not allowed, not a configured target).' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERROR_CODES

export class PhoneAgentError extends Error {
  readonly code: ErrorCode
  readonly transient: boolean

  constructor (code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PhoneAgentError'
    this.code = code
    this.transient = ERROR_CODES[code].class === 'transient'
  }
}

/**
 * An error for a routine abort: a turn, a recognition or a filler ending as it should. It is made
 * on every turn and read by nobody but the code that checks its `code`, so it is made without a
 * stack trace (capturing one walks the whole async stack: the larger part of its cost).
 */
export function routineAbort (code: ErrorCode, message: string): PhoneAgentError {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new PhoneAgentError(code, message)
  } finally {
    Error.stackTraceLimit = limit
  }
}

export class ConfigError extends PhoneAgentError {
  /** Dotted path of the offending field, e.g. `routes.+390212345678.script`. */
  readonly field: string
  constructor (field: string, message: string, options: { cause?: unknown } = {}) {
    super('CONFIG_INVALID', `config: ${field}: ${message}`, options)
    this.name = 'ConfigError'
    this.field = field
  }
}

export class CallHangupError extends PhoneAgentError {
  readonly hangupCause: string | undefined
  constructor (hangupCause?: string) {
    super('CALL_HANGUP', `call hung up${hangupCause ? ` (${hangupCause})` : ''}`)
    this.name = 'CallHangupError'
    this.hangupCause = hangupCause
  }
}

export class UnsafeValueError extends PhoneAgentError {
  constructor (what: string) {
    super('UNSAFE_VALUE', `refused unsafe value for ${what}`)
    this.name = 'UnsafeValueError'
  }
}

export function isPhoneAgentError (err: unknown, code?: ErrorCode): err is PhoneAgentError {
  return err instanceof PhoneAgentError && (code === undefined || err.code === code)
}

/** True when an error only means "the call is over": not worth logging as a failure. */
export function isCallEnded (err: unknown): boolean {
  return isPhoneAgentError(err, 'CALL_HANGUP') || isPhoneAgentError(err, 'ESL_SOCKET_CLOSED') ||
    isPhoneAgentError(err, 'CALL_ABORTED')
}

/**
 * Throw the signal's reason when it is aborted. Our call signals are always aborted with a
 * PhoneAgentError; anything else (a bare `controller.abort()`) is wrapped so callers can rely
 * on `code`.
 */
export function throwIfAborted (signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal)
}

export function abortReason (signal: AbortSignal): PhoneAgentError {
  const reason: unknown = signal.reason
  if (reason instanceof PhoneAgentError) return reason
  return new PhoneAgentError('CALL_ABORTED', 'operation aborted', { cause: reason })
}
