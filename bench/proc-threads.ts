import { readdir, readFile } from 'node:fs/promises'

/**
 * CPU time per thread of a process, from /proc/PID/task/TID/stat (Linux): the V8 profiler
 * under-counts this workload about 4x (issue 18), and a process total hides which thread is
 * busy (the event loop, V8's GC helpers, libuv's pool). Clock ticks are USER_HZ, 100 a second
 * on Linux, so a window should be several seconds long.
 */
export interface ThreadTimes {
  readonly name: string
  readonly cpuMs: number
  /**
   * Runnable but waiting for a CPU (ms; /proc/PID/task/TID/schedstat's second field, ns, where
   * the kernel keeps schedstats): an event loop that waits here is late however little it does.
   */
  readonly waitMs: number
}

const TICK_MS = 10

/**
 * Every thread of `pid` and of its descendant processes that run the same program (a server
 * with worker processes, `server.workers` > 1; not tsx's esbuild service). A descendant's main
 * thread is named `main <pid>`, so each worker's event loop stays apart; its other threads
 * (V8's, libuv's) are grouped with the parent's by name.
 */
export async function threadTimes (pid: number): Promise<Map<number, ThreadTimes>> {
  const out = new Map<number, ThreadTimes>()
  const program = await commOf(pid)
  await addProcess(out, pid, false, program)
  return out
}

async function commOf (pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim()
}

async function addProcess (out: Map<number, ThreadTimes>, pid: number, descendant: boolean, program: string): Promise<void> {
  const tids = await readdir(`/proc/${pid}/task`).catch(() => [] as string[])
  const children: number[] = []
  for (const tid of tids) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '')
    // The name is in parentheses and may hold spaces: the fields after the last ')' are fixed.
    const close = stat.lastIndexOf(')')
    if (close < 0) continue
    const name = stat.slice(stat.indexOf('(') + 1, close)
    const fields = stat.slice(close + 2).split(' ')
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the state field.
    const ticks = Number(fields[11]) + Number(fields[12])
    const waitNs = Number((await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '')).split(' ')[1])
    out.set(Number(tid), { name: descendant && Number(tid) === pid ? `main ${pid}` : name, cpuMs: ticks * TICK_MS, waitMs: Number.isFinite(waitNs) ? waitNs / 1e6 : 0 })
    const kids = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '')
    for (const kid of kids.split(' ')) if (kid.trim() !== '') children.push(Number(kid))
  }
  for (const child of children) if (await commOf(child) === program) await addProcess(out, child, true, program)
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

/**
 * The largest share of `wallMs` that one event loop (the process's main thread, or with worker
 * processes each worker's) spent runnable but off a CPU between two readings.
 */
export function loopWaitShare (before: Map<number, ThreadTimes>, after: Map<number, ThreadTimes>, pid: number, wallMs: number): number {
  let worst = 0
  for (const [tid, t] of after) {
    if (tid !== pid && !t.name.startsWith('main ')) continue
    worst = Math.max(worst, (t.waitMs - (before.get(tid)?.waitMs ?? t.waitMs)) / wallMs)
  }
  return worst
}

/**
 * The whole machine's CPU time so far, ms summed over its CPUs (/proc/stat's `cpu` line): busy
 * (user, nice, system, irq, softirq) and stolen (the hypervisor ran another guest instead: a VM's
 * noisy neighbour, which no process's own figures show).
 */
export async function machineTimes (): Promise<{ busyMs: number, stealMs: number }> {
  const line = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n')[0] ?? ''
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  const at = (i: number): number => Number.isFinite(f[i]) ? f[i] as number : 0
  return { busyMs: (at(0) + at(1) + at(2) + at(5) + at(6)) * TICK_MS, stealMs: at(7) * TICK_MS }
}

/**
 * The rest of the machine over a window, in cores: what was busy besides `ours` (the cores the
 * bench's own processes used: other processes, the kernel's own threads), and what was stolen.
 */
export function restOfMachine (before: { busyMs: number, stealMs: number }, after: { busyMs: number, stealMs: number }, wallMs: number, ours: number): { machineOtherCpu: number, stealCpu: number } {
  const round3 = (v: number): number => Math.round(v * 1000) / 1000
  return { machineOtherCpu: round3(Math.max(0, (after.busyMs - before.busyMs) / wallMs - ours)), stealCpu: round3((after.stealMs - before.stealMs) / wallMs) }
}
