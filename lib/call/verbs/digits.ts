import { abortReason } from '../../errors.ts'
import type { VerbContext } from '../context.ts'

export interface DigitsOptions {
  /** Stop after this many digits. */
  readonly max?: number
  /** Wait for the first digit, in ms. */
  readonly timeoutMs?: number
  /** Wait between digits, in ms. */
  readonly interDigitTimeoutMs?: number
  /** Digits that end input early (not included in the result). */
  readonly terminators?: string
  /** Forget digits typed before this call instead of using them (type-ahead is kept by default). */
  readonly flush?: boolean
  readonly signal?: AbortSignal | undefined
}

/**
 * Collect DTMF digits. Digits typed while a prompt played are kept (callers who know the menu
 * type ahead) unless `flush` is set. Resolves with what was typed, '' on timeout.
 */
export async function digits (ctx: VerbContext, options: DigitsOptions = {}): Promise<string> {
  const max = Math.max(1, Math.min(64, Math.floor(options.max ?? 1)))
  const terminators = options.terminators ?? '#'
  const firstTimeout = options.timeoutMs ?? 5000
  const interTimeout = options.interDigitTimeoutMs ?? 3000
  const signal = options.signal ? AbortSignal.any([ctx.signal, options.signal]) : ctx.signal
  if (options.flush) ctx.keypad.flush()
  if (signal.aborted) throw abortReason(signal)

  let collected = ''
  return await new Promise<string>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    let stopWaiting: (() => void) | undefined
    const finish = (err?: unknown): void => {
      clearTimeout(timer)
      stopWaiting?.()
      signal.removeEventListener('abort', onAbort)
      if (err === undefined) resolve(collected)
      else reject(err)
    }
    const onAbort = (): void => { finish(abortReason(signal)) }
    const take = (digit: string): boolean => {
      if (terminators.includes(digit)) { finish(); return true }
      collected += digit
      if (collected.length >= max) { finish(); return true }
      clearTimeout(timer)
      timer = setTimeout(() => finish(), interTimeout)
      return false
    }
    signal.addEventListener('abort', onAbort, { once: true })
    for (let typed = ctx.keypad.take(); typed !== undefined; typed = ctx.keypad.take()) {
      if (take(typed)) return
    }
    if (timer === undefined) timer = setTimeout(() => finish(), firstTimeout)
    stopWaiting = ctx.keypad.wait((digit) => { take(digit) })
  })
}
