import { monitorEventLoopDelay } from 'node:perf_hooks'

const RESOLUTION_MS = 10

/**
 * How late this process's event loop ran while `fn` ran: `loopDelayMs` is the worst single
 * delay, `loopLagMs` all of them added up (each sample is one RESOLUTION_MS timer that fired
 * that much late). The agent, the simulator and the provider fakes share the test's process, so
 * on a loaded machine every timer and socket read is that much late: a bound on a stretch of time
 * allows for it, and still fails a wait that is really unbounded. A stretch can hold several
 * stalls, so a bound on one allows for the lag, not the worst delay (at load 20 a dead-air
 * silence overran budget, margin and the worst single delay of 1,084 ms by 48 ms).
 */
export async function withLoopDelay<T> (fn: () => Promise<T>): Promise<{ value: T, loopDelayMs: number, loopLagMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  histogram.enable()
  try {
    const value = await fn()
    histogram.disable()
    const lagMs = histogram.count * Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS)
    return { value, loopDelayMs: Math.round(histogram.max / 1e6), loopLagMs: Math.round(Math.max(lagMs, histogram.max / 1e6 - RESOLUTION_MS)) }
  } finally {
    histogram.disable()
  }
}
