import type { APIError } from '@anthropic-ai/sdk'
import { loadedAnthropicSdk } from './anthropic-sdk.ts'
import type { ErrorCode } from '../errors.ts'
import { PhoneAgentError } from '../errors.ts'
import { deadlinePassed, toProviderError, type ErrorContext } from '../providers/errors.ts'

/**
 * Anthropic failures -> our PROVIDER_* codes. An HTTP error carries its status (529 is
 * `overloaded_error`, a 5xx like any other); an error inside a 200 stream arrives as an SSE
 * `event: error` whose body names only the error `type` (Messages API "Errors": the same types
 * as the HTTP ones), so the type decides. The SDK's own error classes are not openai's, so its
 * connection failures are recognised here before the shared table.
 */

const CODE_FOR_TYPE: Readonly<Record<string, ErrorCode>> = {
  overloaded_error: 'PROVIDER_UNAVAILABLE',
  api_error: 'PROVIDER_UNAVAILABLE',
  rate_limit_error: 'PROVIDER_RATE_LIMITED',
  timeout_error: 'PROVIDER_TIMEOUT',
  authentication_error: 'PROVIDER_AUTH',
  permission_error: 'PROVIDER_AUTH',
  invalid_request_error: 'PROVIDER_BAD_REQUEST',
  not_found_error: 'PROVIDER_BAD_REQUEST',
  request_too_large: 'PROVIDER_BAD_REQUEST',
  billing_error: 'PROVIDER_BAD_REQUEST',
}

/** The error `type` of an API error, from the SDK's field or the body (`{type:'error', error:{type}}`). */
function errorType (err: APIError): string | undefined {
  const fromField = (err as { type?: unknown }).type
  if (typeof fromField === 'string') return fromField
  const body = err.error as { error?: { type?: unknown } } | undefined
  return typeof body?.error?.type === 'string' ? body.error.type : undefined
}

export function anthropicError (err: unknown, ctx: ErrorContext): PhoneAgentError {
  if (ctx.signal?.aborted === true || err instanceof PhoneAgentError || deadlinePassed(ctx.deadline)) return toProviderError(err, ctx)
  const what = `${ctx.provider} ${ctx.operation}`
  // No client was ever built: the error cannot be one of the SDK's.
  const sdk = loadedAnthropicSdk()
  if (sdk === undefined) return toProviderError(err, ctx)
  if (err instanceof sdk.APIError && err.status === undefined) {
    const type = errorType(err)
    // A type we do not know is still the server telling us it failed: worth another try.
    const code = (type === undefined ? undefined : CODE_FOR_TYPE[type]) ?? 'PROVIDER_UNAVAILABLE'
    return new PhoneAgentError(code, `${what}: ${type ?? 'error'} inside the response stream`, { cause: err })
  }
  if (err instanceof sdk.APIConnectionTimeoutError) return new PhoneAgentError('PROVIDER_TIMEOUT', `${what}: request timed out`, { cause: err })
  if (err instanceof sdk.APIConnectionError) {
    // The socket error, when there is one, names the failure (ECONNREFUSED, a reset).
    const mapped = toProviderError(err.cause ?? err, ctx)
    return mapped.code === 'PROVIDER_BAD_RESPONSE' ? new PhoneAgentError('PROVIDER_UNAVAILABLE', `${what}: connection failed`, { cause: err }) : mapped
  }
  // HTTP statuses, socket codes and malformed JSON are the shared table's.
  return toProviderError(err, ctx)
}
