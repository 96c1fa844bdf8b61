import { PhoneAgentError, abortReason, type ErrorCode } from '../errors.ts'

/**
 * Vendor failures -> our closed set of PROVIDER_* codes. The class (transient/permanent) of
 * each code decides whether `withRetry` tries again, so this table is the retry policy.
 */

/** HTTP status -> code. 408 is the server's own timeout, worth another try like a 5xx. */
export function codeForHttpStatus (status: number): ErrorCode {
  if (status === 401 || status === 403) return 'PROVIDER_AUTH'
  if (status === 429) return 'PROVIDER_RATE_LIMITED'
  if (status === 408) return 'PROVIDER_TIMEOUT'
  if (status >= 500) return 'PROVIDER_UNAVAILABLE'
  if (status >= 400) return 'PROVIDER_BAD_REQUEST'
  return 'PROVIDER_BAD_RESPONSE'
}

/** gRPC status numbers (grpc/include/grpc/impl/codegen/status.h); grpc-js exports the same enum. */
export const GrpcStatus = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const

export function codeForGrpcStatus (status: number): ErrorCode {
  switch (status) {
    case GrpcStatus.DEADLINE_EXCEEDED: return 'PROVIDER_TIMEOUT'
    case GrpcStatus.RESOURCE_EXHAUSTED: return 'PROVIDER_RATE_LIMITED'
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.PERMISSION_DENIED: return 'PROVIDER_AUTH'
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.NOT_FOUND:
    case GrpcStatus.ALREADY_EXISTS:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.OUT_OF_RANGE:
    case GrpcStatus.UNIMPLEMENTED: return 'PROVIDER_BAD_REQUEST'
    case GrpcStatus.DATA_LOSS: return 'PROVIDER_BAD_RESPONSE'
    // UNAVAILABLE, INTERNAL, ABORTED, UNKNOWN, and CANCELLED that we did not ask for: Google's
    // guidance is that these are safe to retry for idempotent calls such as Recognize.
    default: return 'PROVIDER_UNAVAILABLE'
  }
}

/** Socket-level failures from Node, undici (fetch) and grpc-js. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ERR_STREAM_PREMATURE_CLOSE'])

function networkCode (err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code
    // undici reports a body cut short as TypeError('terminated') with the socket error as cause.
    if (e instanceof TypeError && e.message === 'terminated') return 'terminated'
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

export interface ErrorContext {
  /** Provider name for the message (`openai`, `groq`, `google`). */
  readonly provider: string
  /** What we were doing: `chat`, `transcribe`, `synthesize`. */
  readonly operation: string
  /** The caller's signal: when it is aborted the caller's reason wins over any vendor error. */
  readonly signal?: AbortSignal | undefined
  /**
   * Our own deadline (a Deadline, or its timer signal): when it passed, the failure is a timeout
   * whatever the vendor said.
   */
  readonly deadline?: { readonly expired: boolean } | AbortSignal | undefined
}

/** Whether our deadline (ErrorContext.deadline) has passed. */
export function deadlinePassed (deadline: ErrorContext['deadline']): boolean {
  if (deadline === undefined) return false
  return deadline instanceof AbortSignal ? deadline.aborted : deadline.expired
}

/**
 * Any error thrown while talking to a provider -> PhoneAgentError. Messages carry status codes
 * and vendor names, never request text (a caller's words must not end up in logs by accident).
 */
export function toProviderError (err: unknown, ctx: ErrorContext): PhoneAgentError {
  if (ctx.signal?.aborted) return abortReason(ctx.signal)
  if (err instanceof PhoneAgentError) return err
  const what = `${ctx.provider} ${ctx.operation}`
  if (deadlinePassed(ctx.deadline)) return new PhoneAgentError('PROVIDER_TIMEOUT', `${what}: no answer within the deadline`, { cause: err })

  const e = err as { status?: unknown, code?: unknown } | null | undefined
  // An HTTP status (HttpStatusError, openai-client.ts; the Anthropic SDK's APIError).
  if (typeof e?.status === 'number') {
    return new PhoneAgentError(codeForHttpStatus(e.status), `${what}: HTTP ${e.status}`, { cause: err })
  }
  // grpc-js ServiceError (and google-gax's GoogleError) carry a numeric `code`.
  if (typeof e?.code === 'number' && e.code > 0 && e.code <= 16) {
    const name = Object.keys(GrpcStatus).find(k => GrpcStatus[k as keyof typeof GrpcStatus] === e.code)
    return new PhoneAgentError(codeForGrpcStatus(e.code), `${what}: gRPC ${name ?? e.code}`, { cause: err })
  }
  // undici's own timers (300 s each by default; our deadline is normally far shorter).
  if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT') return new PhoneAgentError('PROVIDER_TIMEOUT', `${what}: request timed out`, { cause: err })
  const net = networkCode(err)
  if (net !== undefined) return new PhoneAgentError('PROVIDER_UNAVAILABLE', `${what}: connection failed (${net})`, { cause: err })
  if (err instanceof SyntaxError) return new PhoneAgentError('PROVIDER_BAD_RESPONSE', `${what}: malformed JSON`, { cause: err })
  return new PhoneAgentError('PROVIDER_BAD_RESPONSE', `${what}: unexpected failure`, { cause: err })
}

/** A failure we detected ourselves in a response that looked fine to the client library. */
export function badResponse (ctx: ErrorContext, why: string): PhoneAgentError {
  return new PhoneAgentError('PROVIDER_BAD_RESPONSE', `${ctx.provider} ${ctx.operation}: ${why}`)
}
