/**
 * A long-task recorder for a bench's server process, loaded with `--import` after tsx with
 * STALL_RECORD=FILE in its environment (bench/load.ts --stalls does both). It says
 * of each event-loop stall what the main thread was doing, which the loop-delay histogram and a
 * CPU profile cannot: a profile only samples the thread while it runs, so a main thread waiting
 * for the CPU shows as a gap between samples.
 *
 * A 2 ms interval timer reads the main thread's /proc/self/task/PID/schedstat (time on a CPU,
 * time runnable but waiting for one, in ns; Linux, CONFIG_SCHEDSTATS) on every run and every
 * thread's every 10 ms. A gap over STALL_MS between two runs is a stall: how much of it the main
 * thread ran (our JavaScript, or a GC pause on it), how much it waited for a CPU, and which of
 * the process's other threads ran meanwhile (V8's helpers are named `node`: concurrent marking,
 * parallel scavenge, background compiles; libuv's `libuv-worker`). GC events over 2 ms
 * (PerformanceObserver 'gc': kind 1 scavenge, 4 mark-compact, 8 incremental marking) are kept
 * beside them. At exit the whole record is written to STALL_RECORD as JSON, wall-clock stamped
 * (bench/stall-cause.ts reads it). Importing this module starts it: nothing else imports it.
 * Investigation only: it costs CPU (with STALL_RECORD_MS=12, an idle primary and two workers used
 * 0.21 of a core against 0.014 without it, 2026-12-04), so its run's figures are not the bench's.
 */
import cluster from 'node:cluster'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { performance, PerformanceObserver } from 'node:perf_hooks'
import { isMainThread } from 'node:worker_threads'
import type { GcEvent, Stall } from './stall-cause.ts'

/** A gap between two runs of the 2 ms timer longer than this is recorded (STALL_RECORD_MS to look at shorter ones). */
const STALL_MS = Number(process.env.STALL_RECORD_MS ?? 25)
const EVERY_MS = 2
/** Every thread's counters are read once in this many runs. */
const ALL_EVERY = 5

const file = process.env.STALL_RECORD
// A cluster worker (server.workers) inherits the flags and the environment: each writes its own
// file beside the primary's (bench/load.ts --stalls sums them all). Node deletes
// NODE_UNIQUE_ID from a worker's environment before any --import runs: cluster.isWorker says it.
// Worker threads (and Node's module-hooks thread) are handed the same --import: only the main thread records.
if (file !== undefined && process.platform === 'linux' && isMainThread) start(cluster.isWorker ? `${file}.${process.pid}` : file)

function start (path: string): void {
  const pid = process.pid
  const origin = performance.timeOrigin
  const stalls: Stall[] = []
  const gcs: GcEvent[] = []
  const names = new Map<string, string>()
  const schedstat = (tid: string | number): [number, number] => {
    const [cpu, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ').map(Number)
    return [cpu ?? 0, wait ?? 0]
  }
  const threads = (): Map<string, number> => {
    const out = new Map<string, number>()
    for (const tid of readdirSync('/proc/self/task')) {
      if (tid === String(pid)) continue
      try { out.set(tid, schedstat(tid)[0]) } catch { /* the thread ended */ }
    }
    return out
  }
  const name = (tid: string): string => {
    let n = names.get(tid)
    if (n === undefined) {
      try { n = readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim() } catch { n = '?' }
      names.set(tid, n)
    }
    return n
  }
  let last = performance.now()
  let lastMain = schedstat(pid)
  let snapshot = threads()
  let snapshotAt = last
  let runs = 0
  const timer = setInterval(() => {
    const now = performance.now()
    const main = schedstat(pid)
    if (now - last > STALL_MS) {
      const all = threads()
      const others: Record<string, number> = {}
      for (const [tid, cpu] of all) {
        const ms = (cpu - (snapshot.get(tid) ?? cpu)) / 1e6
        if (ms >= 0.5) others[name(tid)] = round((others[name(tid)] ?? 0) + ms)
      }
      stalls.push({ at: Math.round(origin + last), ms: round(now - last), mainCpuMs: round((main[0] - lastMain[0]) / 1e6), mainWaitMs: round((main[1] - lastMain[1]) / 1e6), others, othersMs: round(now - snapshotAt) })
      snapshot = all
      snapshotAt = now
    } else if (++runs % ALL_EVERY === 0) {
      snapshot = threads()
      snapshotAt = now
    }
    last = now
    lastMain = main
  }, EVERY_MS)
  timer.unref()
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration > 2) gcs.push({ at: Math.round(origin + e.startTime), ms: round(e.duration), kind: (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0 })
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  // hr0: process.hrtime in µs at performance.now() 0, the clock of a --cpu-prof profile's timestamps.
  const hr0 = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000
  process.on('exit', () => { writeFileSync(path, JSON.stringify({ pid, origin, hr0, stalls, gcs })) })
}

function round (ms: number): number { return Math.round(ms * 10) / 10 }
