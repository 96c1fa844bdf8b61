/** A record of bench/stall-recorder.ts, and what held the loop in each stall. */
import { readdir, readFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

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

/**
 * Stalls of `minMs` or more in each window, by what held the loop: summed over the server's
 * processes (with workers each writes PATH.PID beside the primary's PATH).
 */
export async function stallSummary (path: string, windows: ReadonlyArray<{ calls: number, from: number, to: number }>, minMs: number): Promise<Array<{ calls: number, causes: Record<string, { count: number, longestMs: number }> }>> {
  const names = (await readdir(dirname(path)).catch(() => [])).filter((n) => n === basename(path) || n.startsWith(`${basename(path)}.`))
  const records = await Promise.all(names.map(async (n) => JSON.parse(await readFile(join(dirname(path), n), 'utf8').catch(() => '{}')) as { stalls?: Stall[], gcs?: GcEvent[] }))
  return windows.map(({ calls, from, to }) => {
    const causes: Record<string, { count: number, longestMs: number }> = {}
    for (const record of records) {
      for (const s of record.stalls ?? []) {
        if (s.at < from || s.at >= to || s.ms < minMs) continue
        const c = causes[stallCause(s, record.gcs ?? [])] ??= { count: 0, longestMs: 0 }
        c.count++
        c.longestMs = Math.max(c.longestMs, s.ms)
      }
    }
    return { calls, causes }
  })
}
