/** A record of bench/stall-recorder.ts, and what held the loop in each stall. */

export interface Stall {
  /** Date.now() when the stall began, and its length (ms). */
  readonly at: number
  readonly ms: number
  /** The main thread on a CPU, and runnable but waiting for one, during it (ms). */
  readonly mainCpuMs: number
  readonly mainWaitMs: number
  /** CPU (ms) of the process's other threads by name, over `othersMs` up to the stall's end. */
  readonly others: Record<string, number>
  readonly othersMs: number
}

export interface GcEvent { readonly at: number, readonly ms: number, readonly kind: number }

export type StallCause = 'full GC' | 'scavenge' | 'helper threads' | 'main thread busy' | 'other processes'

/**
 * What held the loop in a stall: a GC event in it (a full GC: its incremental marking or its
 * finish; else a scavenge), else the process's other threads running for 30 % of it, else the
 * main thread running for 60 % of it, else the main thread waited for a CPU other processes held.
 */
export function stallCause (s: Stall, gcs: readonly GcEvent[]): StallCause {
  const near = gcs.filter((g) => g.at + g.ms >= s.at - 50 && g.at <= s.at + s.ms)
  if (near.some((g) => g.kind === 4 || g.kind === 8)) return 'full GC'
  if (near.length > 0) return 'scavenge'
  // The CPU profiler's own thread (--cpu-prof) is no helper of the server's.
  const helpers = Object.entries(s.others).reduce((a, [name, ms]) => name.startsWith('v8:Prof') ? a : a + ms, 0)
  if (helpers > 0.3 * s.ms) return 'helper threads'
  return s.mainCpuMs > 0.6 * s.ms ? 'main thread busy' : 'other processes'
}
