import { monitorEventLoopDelay } from 'node:perf_hooks'

/**
 * The worst event-loop delay while `fn` ran. The agent, the simulator and the provider fakes
 * share the test's process, so on a loaded machine every timer and socket read is that much
 * late: a bound on a stretch of time allows for it, and still fails a wait that is really
 * unbounded.
 */
export async function withLoopDelay<T> (fn: () => Promise<T>): Promise<{ value: T, loopDelayMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  try {
    const value = await fn()
    return { value, loopDelayMs: Math.round(histogram.max / 1e6) }
  } finally {
    histogram.disable()
  }
}
