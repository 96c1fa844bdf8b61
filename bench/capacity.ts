/**
 * Capacity: how many concurrent stream-mode calls one server process carries with clean
 * media. The real server runs in a child process (bench/capacity-server.ts); this process runs
 * the simulated FreeSWITCH and ramps calls through it: 50, 100, 200 ... at each step it holds
 * the calls a few seconds and measures
 *   - jitter as the caller hears it: |gap between two of our frames arriving - 20 ms|,
 *   - the server's event-loop delay and its own frame pacing,
 *   - the server's RSS and heap, as MB per call over the idle baseline,
 *   - this process's event-loop delay: when the simulator is late, the caller-side numbers
 *     measure the driver, not the server, and the step says so.
 * Capacity is the largest step with jitter p99 <= 5 ms and event-loop delay p99 <= 20 ms.
 * Run: node --expose-gc --import tsx bench/capacity.ts [maxCalls] [audioSeconds]
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { cpus, loadavg } from 'node:os'
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { FakeFreeSwitch, type SimulatedCall } from '../lib/simulator/index.ts'
import { pinApart, ServerChild, unpinDriver } from './capacity-child.ts'
import { abortOnInterrupt } from './interrupt.ts'
import { BENCH_DID, createFixture } from './capacity-fixture.ts'
import type { MemoryStats, WindowStats } from './capacity-protocol.ts'
import { StallWatch } from './capacity-stalls.ts'
import { Histogram, MB, round, type Quantiles } from './capacity-stats.ts'
import { capacityNotes, formatCapacityTable, type CapacityResult, type CapacityStep } from './capacity-report.ts'

export type { CapacityResult, CapacityStep } from './capacity-report.ts'
export { capacityNotes, formatCapacityTable } from './capacity-report.ts'

export interface CapacityOptions {
  /** Concurrent-call targets, ascending; default 50, 100, 200 ... 600 (more in hundreds up to maxCalls). */
  readonly steps?: readonly number[]
  /** Upper bound on the steps (default 600). */
  readonly maxCalls?: number
  /** Measurement window per step, once every call streams (default 5000 ms). */
  readonly holdMs?: number
  /** Wait after the ramp before measuring, so start-up work is not in the window (default 1000 ms). */
  readonly settleMs?: number
  /** Length of the prompt every call plays, looped (default 60 s). */
  readonly audioSeconds?: number
  /** New calls a second during a ramp (default 250). */
  readonly rampPerSecond?: number
  readonly jitterLimitMs?: number
  readonly loopLimitMs?: number
  /**
   * Linux with taskset and 2+ CPUs: the simulator on CPU 0, the server on CPU 1 (default true),
   * so the driver's bursts do not delay the server's timers as CPU contention.
   */
  readonly pinCpus?: boolean
  /** Steps are skipped once the run has taken this long (default 240 s). */
  readonly budgetMs?: number
  readonly signal?: AbortSignal
  /** Progress lines (the CLI prints them on stderr). */
  readonly progress?: (line: string) => void
  /** Same as `progress` (the name bench/run.ts uses). */
  readonly log?: (line: string) => void
}

const FRAME_MS = 20
const DEFAULT_STEPS = [50, 100, 200, 300, 400, 500, 600]
/** Above this the simulator is so late that the run says so and stops ramping. */
const DRIVER_SATURATED_MS = 100
/** A driver busy stretch longer than this taints the frames it stamps: a shorter one cannot by itself push a deviation past the 5 ms limit. */
const STALL_MS = 5
/** Above this share of tainted intervals the caller-side jitter is not a measurement of the server. */
const MAX_TAINTED = 0.1

interface Tracked {
  readonly call: SimulatedCall
  /** Arrival (ms, call timeline) of the last of our frames the caller got. */
  last: number | undefined
  /** That last frame was stamped at the end of a driver stall. */
  lastTainted: boolean
  /** Epoch ms of the call's time 0, to put its arrival stamps on the stall watch's clock. */
  t0: number | undefined
  streaming: boolean
}

export async function runCapacityBench (options: CapacityOptions = {}): Promise<CapacityResult> {
  const maxCalls = options.maxCalls ?? 600
  const steps = (options.steps ?? defaultSteps(maxCalls)).filter((n) => n > 0 && n <= maxCalls)
  const holdMs = options.holdMs ?? 5000
  const settleMs = options.settleMs ?? 1000
  const audioSeconds = options.audioSeconds ?? 60
  const rampPerSecond = options.rampPerSecond ?? 250
  const jitterLimitMs = options.jitterLimitMs ?? 5
  const loopLimitMs = options.loopLimitMs ?? 20
  const budgetMs = options.budgetMs ?? 240_000
  const signal = options.signal ?? new AbortController().signal
  const progress = options.progress ?? options.log ?? (() => {})
  const started = performance.now()
  // Other work on the machine shows up as jitter here: the report carries the load it started under.
  const loadAverage = loadavg()[0] ?? 0

  const fixture = await createFixture(audioSeconds)
  let child: ServerChild | undefined
  const fs = new FakeFreeSwitch()
  const tracked: Tracked[] = []
  const jitter = new Histogram(1000, 1)
  const rawJitter = new Histogram(1000, 1)
  let tainted = 0
  let measuring = false
  const driverLoop = monitorEventLoopDelay({ resolution: 1 })
  const stalls = new StallWatch(STALL_MS)

  /**
   * Read what each caller heard since the last drain, then empty the simulator's list: it
   * keeps every frame with its samples, which at hundreds of calls would grow the driver by
   * a gigabyte and make its GC pauses the thing we measure.
   */
  const drain = (): void => {
    stalls.poll()
    for (const t of tracked) {
      const heard = t.call.ear.heard
      for (const f of heard) {
        if (f.source !== 'unicast') continue
        t.t0 ??= Date.now() - t.call.nowMs
        const held = measuring && stalls.tainted(t.t0 + f.arrivalMs)
        if (measuring && t.last !== undefined) {
          const deviation = Math.abs(f.arrivalMs - t.last - FRAME_MS)
          rawJitter.add(deviation)
          if (held || t.lastTainted) tainted++
          else jitter.add(deviation)
        }
        t.last = f.arrivalMs
        t.lastTainted = held
        t.streaming = true
      }
      heard.length = 0
    }
  }
  const drainTimer = setInterval(drain, 200)

  const result: { steps: CapacityStep[], idle?: MemoryStats, stoppedBecause?: string, pinned: boolean } = { steps: [], pinned: false }
  try {
    child = await ServerChild.start(fixture, signal)
    const pinned = options.pinCpus !== false && await pinApart(child.pid)
    result.pinned = pinned
    progress(`capacity: server up on port ${child.port}${pinned ? ', pinned to CPU 1 (simulator on CPU 0)' : ''}; ${audioSeconds} s prompt (${round(fixture.audioBytes / MB, 2)} MB of PCM)`)
    driverLoop.enable()
    stalls.start()
    await sleep(1000, undefined, { signal })
    result.idle = await child.memory(true)

    /** One measurement window over the calls up now: drain first so only frames that arrive inside it count. */
    const measureWindow = async (target: number, rampMs: number): Promise<CapacityStep> => {
      if (child === undefined) throw new Error('capacity server not running')
      drain()
      await child.windowStart()
      jitter.reset()
      rawJitter.reset()
      tainted = 0
      stalls.reset()
      driverLoop.reset()
      const cpu0 = process.cpuUsage()
      const wall0 = performance.now()
      const atSeconds = round((wall0 - started) / 1000, 1)
      measuring = true
      await sleep(holdMs, undefined, { signal })
      drain()
      measuring = false
      const driverCpu = cpuShare(process.cpuUsage(cpu0), performance.now() - wall0)
      const driver = { p50: driverLoop.percentile(50) / 1e6, p99: driverLoop.percentile(99) / 1e6, max: driverLoop.max / 1e6, stalls: stalls.count }
      const server = await child.windowEnd()
      const memory = await child.memory(true)
      global.gc?.()
      return judge({
        target, atSeconds, tracked, rampMs, jitter: jitter.summary(), rawJitter: rawJitter.summary(), tainted, server, memory, idle: result.idle, driver, driverCpu, jitterLimitMs, loopLimitMs,
      })
    }

    for (const target of steps) {
      const elapsed = performance.now() - started
      const expected = (target - tracked.length) / rampPerSecond * 1000 + settleMs + 2 * holdMs + 5000
      if (elapsed + expected > budgetMs) { result.stoppedBecause = `time budget (${Math.round(budgetMs / 1000)} s) reached before ${target} calls`; break }

      const stepStart = performance.now()
      await ramp(fs, child.port, tracked, target, rampPerSecond, signal)
      const streamTimeout = 10_000 + target * 20
      while (performance.now() - stepStart < streamTimeout && tracked.some((t) => !t.streaming && !t.call.hungUp)) {
        await sleep(100, undefined, { signal })
        drain()
      }
      const rampMs = performance.now() - stepStart
      await sleep(settleMs, undefined, { signal })

      // A failed window is measured once more before it counts: the machine is shared, and one
      // stray stall of another process can fail a step that the next window passes.
      let step: CapacityStep | undefined
      for (let attempt = 1; attempt <= 2 && (step === undefined || step.verdict === 'fail'); attempt++) {
        step = { ...await measureWindow(target, rampMs), attempt }
        progress(`capacity: ${target} calls, window ${attempt}: ${step.verdict}${step.reasons.length > 0 ? ` (${step.reasons.join('; ')})` : ''}`)
      }
      if (step === undefined) break
      result.steps.push(step)
      // A driver-limited step says nothing against the server: keep ramping for the server-side numbers.
      if (step.verdict === 'fail') { result.stoppedBecause = `${target} calls failed twice`; break }
      if (step.driverLoopMs.p99 > DRIVER_SATURATED_MS || step.streaming < target) {
        result.stoppedBecause = `the simulator cannot drive more (${step.streaming}/${target} calls streaming, its event-loop delay p99 ${step.driverLoopMs.p99} ms)`
        break
      }
    }
  } finally {
    clearInterval(drainTimer)
    stalls.stop()
    driverLoop.disable()
    progress(`capacity: hanging up ${fs.activeCalls} calls`)
    // Bounded: a call the simulator cannot end must not hold the run (or the process) open.
    const giveUp = new AbortController()
    await Promise.race([fs.close(), sleep(15_000, undefined, { signal: giveUp.signal }).catch(() => {})])
    giveUp.abort()
    await child?.stop()
    if (options.pinCpus !== false) await unpinDriver()
    await fixture.cleanup()
  }
  return summarise(result.steps, result.idle, {
    audioSeconds, audioBytes: fixture.audioBytes, jitterLimitMs, loopLimitMs, stoppedBecause: result.stoppedBecause,
    durationMs: performance.now() - started, loadAverage: round(loadAverage, 2), pinned: result.pinned,
  })
}

function defaultSteps (maxCalls: number): number[] {
  const steps = [...DEFAULT_STEPS]
  for (let n = 700; n <= maxCalls; n += 100) steps.push(n)
  if (!steps.includes(maxCalls) && maxCalls < 700) steps.push(maxCalls)
  return steps.sort((a, b) => a - b)
}

/** Add calls up to `target`, a few every 20 ms so their park loops do not all start in one tick. */
async function ramp (fs: FakeFreeSwitch, port: number, tracked: Tracked[], target: number, perSecond: number, signal: AbortSignal): Promise<void> {
  const perBatch = Math.max(1, Math.round(perSecond / 50))
  while (tracked.length < target) {
    for (let i = 0; i < perBatch && tracked.length < target; i++) {
      const n = tracked.length
      const call = fs.placeCall({
        port,
        destination: BENCH_DID,
        callerNumber: `+39333${String(1_000_000 + n).slice(1)}`,
        callerName: `Bench ${n}`,
      })
      tracked.push({ call, last: undefined, lastTainted: false, t0: undefined, streaming: false })
    }
    await sleep(20, undefined, { signal })
  }
}

function cpuShare (usage: NodeJS.CpuUsage, wallMs: number): number {
  return wallMs > 0 ? (usage.user + usage.system) / 1000 / wallMs : 0
}

interface StepInput {
  readonly target: number
  readonly atSeconds: number
  readonly tracked: readonly Tracked[]
  readonly rampMs: number
  /** Caller-side deviations, without the intervals a driver stall touched. */
  readonly jitter: Quantiles
  readonly rawJitter: Quantiles
  readonly tainted: number
  readonly server: WindowStats
  readonly memory: MemoryStats
  readonly idle: MemoryStats | undefined
  readonly driver: { readonly p50: number, readonly p99: number, readonly max: number, readonly stalls: number }
  readonly driverCpu: number
  readonly jitterLimitMs: number
  readonly loopLimitMs: number
}

/**
 * The verdict of one step. Caller-side jitter is judged without the intervals a driver stall
 * touched (see capacity-stalls.ts); when those are more than a tenth of the window, the
 * simulator mostly measured its own lateness, and a step whose server met its own checks is
 * `driver-limited`: not a pass, not held against the server.
 */
function judge (s: StepInput): CapacityStep {
  const streaming = s.tracked.filter((t) => t.streaming && !t.call.hungUp).length
  const dropped = s.tracked.filter((t) => t.call.hungUp).length
  const idle = s.idle ?? s.memory
  const perCall = (now: number, base: number): number => (now - base) / MB / Math.max(1, s.target)
  const taintedShare = s.rawJitter.count === 0 ? 0 : s.tainted / s.rawJitter.count
  const reasons: string[] = []
  const measurable = s.jitter.count > 0 && taintedShare <= MAX_TAINTED
  const jitterOk = measurable && s.jitter.p99 <= s.jitterLimitMs
  const loopOk = s.server.loop.p99 <= s.loopLimitMs
  const allUp = streaming === s.target && dropped === 0
  const pacingOk = s.server.pacer.wakeDeviationP99 <= s.jitterLimitMs
  if (!allUp) reasons.push(`${streaming}/${s.target} calls streaming, ${dropped} ended early`)
  if (!loopOk) reasons.push(`server loop delay p99 ${round(s.server.loop.p99, 1)} ms > ${s.loopLimitMs}`)
  if (!pacingOk) reasons.push(`server pacing deviation p99 ${round(s.server.pacer.wakeDeviationP99, 1)} ms > ${s.jitterLimitMs}`)
  if (!jitterOk && s.jitter.count > 0 && s.jitter.p99 > s.jitterLimitMs) reasons.push(`caller-side jitter p99 ${s.jitter.p99} ms > ${s.jitterLimitMs}`)
  if (!measurable) {
    reasons.push(`simulator stalled ${s.driver.stalls} times (loop delay p99 ${round(s.driver.p99, 1)} ms, CPU ${round(s.driverCpu, 2)}): ` +
      `${Math.round(taintedShare * 100)}% of caller-side intervals carry its lateness, not the server's`)
  }
  // Driver-limited: the caller side could not be measured (too many intervals touched by
  // driver stalls) and the server met its own checks (loop delay, send-side pacing).
  const verdict = jitterOk && loopOk && allUp
    ? 'pass'
    : !measurable && loopOk && allUp && pacingOk ? 'driver-limited' : 'fail'
  return {
    calls: s.target,
    atSeconds: s.atSeconds,
    streaming,
    dropped,
    rampSeconds: round(s.rampMs / 1000, 1),
    jitterMs: { p50: s.jitter.p50, p99: s.jitter.p99, max: s.jitter.max, intervals: s.jitter.count },
    rawJitterMs: { p50: s.rawJitter.p50, p99: s.rawJitter.p99, max: s.rawJitter.max, intervals: s.rawJitter.count },
    taintedShare: round(taintedShare, 3),
    serverLoopMs: { p50: round(s.server.loop.p50, 2), p99: round(s.server.loop.p99, 2), max: round(s.server.loop.max, 1) },
    serverPacing: {
      wakeDeviationP50Ms: round(s.server.pacer.wakeDeviationP50, 2),
      wakeDeviationP99Ms: round(s.server.pacer.wakeDeviationP99, 2),
      tickWorkP99Ms: round(s.server.pacer.tickWorkP99, 2),
      lateWakeups: s.server.pacer.lateWakeups,
      skippedFrames: s.server.pacer.skippedFrames,
    },
    serverCpu: round(s.server.cpu, 2),
    serverActiveCalls: s.server.activeCalls,
    rssMB: round(s.memory.rss / MB, 1),
    heapMB: round(s.memory.heapUsed / MB, 1),
    arrayBuffersMB: round(s.memory.arrayBuffers / MB, 1),
    mbPerCall: round(perCall(s.memory.rss, idle.rss), 3),
    heapMbPerCall: round(perCall(s.memory.heapUsed, idle.heapUsed), 3),
    arrayBuffersMbPerCall: round(perCall(s.memory.arrayBuffers, idle.arrayBuffers), 3),
    nonAudioMbPerCall: round(perCall(s.memory.rss - s.memory.arrayBuffers, idle.rss - idle.arrayBuffers), 3),
    driverLoopMs: { p50: round(s.driver.p50, 2), p99: round(s.driver.p99, 2), max: round(s.driver.max, 1) },
    driverStalls: s.driver.stalls,
    driverCpu: round(s.driverCpu, 2),
    verdict,
    reasons,
    attempt: 1,
  }
}

function summarise (steps: CapacityStep[], idle: MemoryStats | undefined, info: {
  audioSeconds: number, audioBytes: number, jitterLimitMs: number, loopLimitMs: number, stoppedBecause: string | undefined, durationMs: number, loadAverage: number, pinned: boolean
}): CapacityResult {
  const passed = steps.filter((s) => s.verdict === 'pass')
  const serverOk = steps.filter((s) => s.verdict !== 'fail')
  const capacity = passed.at(-1)?.calls ?? 0
  const firstBad = steps.find((s) => s.verdict !== 'pass')
  const limitedBy = firstBad === undefined
    ? `not reached: every step passed (largest ${steps.at(-1)?.calls ?? 0})${info.stoppedBecause ? `; ${info.stoppedBecause}` : ''}`
    : `${firstBad.calls} calls ${firstBad.verdict}: ${firstBad.reasons.join('; ')}`
  const atCapacity = passed.at(-1)
  const allUp = steps.filter((s) => s.streaming === s.calls).at(-1)
  const mbPerCall = allUp?.mbPerCall ?? Number.NaN
  const base = {
    capacity,
    serverCapacity: serverOk.at(-1)?.calls ?? 0,
    limitedBy,
    stoppedBecause: info.stoppedBecause,
    mbPerCallAtCapacity: atCapacity?.mbPerCall,
    targets: { calls: 500, mbPerCall: 1 },
    mbPerCall,
    meets: { calls: capacity >= 500, mbPerCall: mbPerCall <= 1 },
    limits: { jitterP99Ms: info.jitterLimitMs, loopDelayP99Ms: info.loopLimitMs },
    idle: idle === undefined ? undefined : { rssMB: round(idle.rss / MB, 1), heapMB: round(idle.heapUsed / MB, 1) },
    audio: { seconds: info.audioSeconds, pcmMBPerCall: round(info.audioBytes / MB, 3) },
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart: info.loadAverage, pinned: info.pinned },
    durationSeconds: round(info.durationMs / 1000, 1),
    steps,
  }
  const withNotes = { ...base, notes: capacityNotes(base) }
  return { ...withNotes, table: formatCapacityTable(withNotes) }
}

async function main (): Promise<void> {
  const maxCalls = process.argv[2] === undefined ? 600 : Number(process.argv[2])
  const audioSeconds = process.argv[3] === undefined ? 60 : Number(process.argv[3])
  if (!Number.isInteger(maxCalls) || maxCalls < 1 || !(audioSeconds > 0)) {
    console.error('usage: node --expose-gc --import tsx bench/capacity.ts [maxCalls] [audioSeconds]')
    process.exit(2)
  }
  const signal = abortOnInterrupt('capacity')
  let result: CapacityResult
  try {
    result = await runCapacityBench({ maxCalls, audioSeconds, signal, progress: (line) => { console.error(line) } })
  } catch (err) {
    if (!signal.aborted) throw err
    console.error('capacity: interrupted; calls hung up, server stopped, temporary files removed')
    process.exitCode = 130
    return
  }
  console.log(result.table)
  for (const note of result.notes) console.log(`\n- ${note}`)
  const { table: _table, ...json } = result
  console.log(JSON.stringify(json))
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((err: unknown) => { console.error(err); process.exitCode = 1 })
}
