import { setTimeout as sleep } from 'node:timers/promises'

/** Counts of live libuv resources by type (TCPSocketWrap, Timeout, UDPWrap, ...). */
export function resources (): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1
  return counts
}

/**
 * Wait (briefly) until sockets and timers are back to `baseline`, and return what is still
 * above it. Polling rather than one look because closes complete on later ticks.
 */
export async function leaksSince (baseline: Record<string, number>, types = ['TCPSocketWrap', 'Timeout', 'UDPWrap'], waitMs = 2000): Promise<Record<string, number>> {
  const deadline = Date.now() + waitMs
  for (;;) {
    const now = resources()
    const extra: Record<string, number> = {}
    for (const type of types) {
      const d = (now[type] ?? 0) - (baseline[type] ?? 0)
      if (d > 0) extra[type] = d
    }
    if (Object.keys(extra).length === 0 || Date.now() > deadline) return extra
    await sleep(20)
  }
}
