import { isPhoneAgentError, type ErrorCode } from '../../lib/errors.ts'
import { until } from '../helpers/until.ts'

/** Timers alive now; a test compares this before and after to prove it left none behind. */
export function activeTimers (): number {
  return process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
}

/**
 * Polls `done` until it holds or `ms` pass (test/helpers/until.ts). For state owned by a library
 * we do not control: Node's undici keeps a timer for an idle pooled socket for up to its 4 s
 * keep-alive timeout.
 */
export async function eventually (done: () => boolean, ms = 8000): Promise<boolean> {
  return await until(done, ms, 20)
}

/** Resolves with the error `p` rejects with; fails when it resolves. */
export async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

export function codeOf (err: unknown): ErrorCode | string {
  return isPhoneAgentError(err) ? err.code : `not a PhoneAgentError: ${String(err)}`
}

/** Drain an async iterable into an array (and rethrow its error). */
export async function collect<T> (it: AsyncIterable<T>, seen: T[] = []): Promise<T[]> {
  for await (const x of it) seen.push(x)
  return seen
}

export const noDelay = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 1 }
