import { setTimeout as delay } from 'node:timers/promises'

/**
 * Wait until `condition()` holds, checking every `everyMs`, for at most `timeoutMs`; returns
 * whether it held. Tests wait for what they assert instead of sleeping a fixed time: a loaded
 * machine makes the same events late, not different, so a bound on ordering stays true where a
 * fixed sleep would not.
 */
export async function until (condition: () => boolean, timeoutMs = 10_000, everyMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() >= deadline) return false
    await delay(everyMs)
  }
  return true
}
