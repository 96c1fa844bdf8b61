import { readdir, readFile } from 'node:fs/promises'

/**
 * CPU time per thread of a process, from /proc/PID/task/TID/stat (Linux): the V8 profiler
 * under-counts this workload about 4x (issue 18), and a process total hides which thread is
 * busy (the event loop, V8's GC helpers, libuv's pool). Clock ticks are USER_HZ, 100 a second
 * on Linux, so a window should be several seconds long.
 */
export interface ThreadTimes { readonly name: string, readonly cpuMs: number }

const TICK_MS = 10

export async function threadTimes (pid: number): Promise<Map<number, ThreadTimes>> {
  const out = new Map<number, ThreadTimes>()
  const tids = await readdir(`/proc/${pid}/task`).catch(() => [] as string[])
  for (const tid of tids) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '')
    // The name is in parentheses and may hold spaces: the fields after the last ')' are fixed.
    const close = stat.lastIndexOf(')')
    if (close < 0) continue
    const name = stat.slice(stat.indexOf('(') + 1, close)
    const fields = stat.slice(close + 2).split(' ')
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the state field.
    const ticks = Number(fields[11]) + Number(fields[12])
    out.set(Number(tid), { name, cpuMs: ticks * TICK_MS })
  }
  return out
}

/** CPU per thread between two readings, as a share of one core over `wallMs`; threads grouped by name. */
export function threadShares (before: Map<number, ThreadTimes>, after: Map<number, ThreadTimes>, wallMs: number): Record<string, number> {
  const shares: Record<string, number> = {}
  for (const [tid, t] of after) {
    const used = t.cpuMs - (before.get(tid)?.cpuMs ?? 0)
    shares[t.name] = (shares[t.name] ?? 0) + used / wallMs
  }
  return shares
}
