/**
 * Load: N concurrent AI calls against one server process, measured from the server's side.
 *
 * Three processes besides this one, so that nothing measured pays for the load it is under:
 *   - the server under test (bench/load-server.ts): the receptionist (converse) in stream mode;
 *   - the provider fakes (bench/load-fakes.ts): STT, LLM and TTS over HTTP at fixed latencies;
 *   - the media generator (bench/native/media-gen.c, built here with cc): every call's UDP.
 * This process runs the simulator's Event Socket side (a few messages per call). On Linux with
 * 2+ CPUs the server's event loop gets CPU 1 (its primary, with workers) and everything else CPU 0.
 *
 * For each N: ramp to N calls with the callers quiet, let them talk (37 % of every 10 s: one
 * AI turn per call every 10 s), warm up for one cycle, measure a talk window; then quiet them
 * and measure a quiet window (media and the VAD on a quiet line). Per window: CPU per server
 * thread from /proc, event-loop delay from the server's own /metrics, send-side pacing from
 * the generator's kernel receive timestamps, turn times from the call records' waterfalls,
 * and the driver's own CPU. Memory per call after a GC.
 * Run: node --import tsx bench/load.ts [--quick] [--steps=100,200] [--no-turns] [--stalls] [--perf=DIR] [--no-write]
 * (--no-turns: the callers stay quiet, no AI turns; its own section, `load-media`. --perf: each
 * window in DIR/N-talk.data and N-quiet.data, for bench/perf-split.ts --quiet-scale=4.)
 */
import { copyFile, readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { FakeFreeSwitch } from '../lib/simulator/index.ts'
import { pinApart, taskset, unpinDriver } from './capacity-child.ts'
import { abortOnInterrupt } from './interrupt.ts'
import { MB, round } from './capacity-stats.ts'
import { FakesProcess, LoadServer } from './load-children.ts'
import { buildMediaGenerator, NativeMedia, writeCallerSpeech } from './load-media.ts'
import { SpeedProbe } from './speed-probe.ts'
import { LOAD_DID, type LoadMark, type LoadMemoryStats } from './load-protocol.ts'
import { formatLoadSection, MAX_LOST, turnTimes, type LoadResult, type LoadStep, type WindowFigures } from './load-report.ts'
import { perfServerArgs, startPerf } from './perf-record.ts'
import { loopWaitShare, machineTimes, restOfMachine, threadShares, threadTimes } from './proc-threads.ts'
import { spliceSection } from './sections.ts'
import { stallSummary } from './stall-cause.ts'

export interface LoadOptions {
  readonly steps?: readonly number[]
  readonly quietMs?: number
  /** Talking before the talk window: one whole cycle, so every caller has had a turn. */
  readonly warmMs?: number
  readonly windowMs?: number
  readonly rampPerSecond?: number
  /** False: the callers never talk (no AI turns): media and the VAD on a quiet line alone, up to larger N. */
  readonly turns?: boolean
  /** Record the server's event-loop stalls and what held each (bench/stall-recorder.ts). */
  readonly stalls?: boolean
  /** `perf record` the server over each window into this directory (N-talk.data, N-quiet.data; bench/perf-split.ts). */
  readonly perfDir?: string
  readonly pinCpus?: boolean
  readonly signal?: AbortSignal
  readonly progress?: (line: string) => void
}

/** prom-client samples the loop delay with a 10 ms timer; the histogram holds whole intervals. */
const LOOP_RESOLUTION_MS = 10
/** After a talk window, long enough for the replies it started to finish and their records to come in. */
const REPLY_SETTLE_MS = 4000
/** After the callers fall quiet: the turn their last words started has replied and finished. */
const QUIET_SETTLE_MS = 5000
/** With --stalls, loop stalls from this long are counted by cause. */
const STALL_REPORT_MS = 40
/** The generator reads every n-th call's audio (see media-gen.c READ_EVERY). */
const READ_EVERY = 4

export async function runLoadBench (options: LoadOptions = {}): Promise<LoadResult> {
  const steps = options.steps ?? [100, 200, 300, 400, 500]
  const quietMs = options.quietMs ?? 5000
  const turns = options.turns ?? true
  // Without turns nothing needs the JIT warm for a turn's code, and a silent caller hears the
  // receptionist's reprompt after agent.deadlines.noInputMs (60 s here) and is hung up after a
  // few: each step's calls must be younger than that (fresh calls every step, below).
  const warmMs = options.warmMs ?? (turns ? 45_000 : 10_000)
  const windowMs = options.windowMs ?? 20_000
  const rampPerSecond = options.rampPerSecond ?? 100
  const signal = options.signal ?? new AbortController().signal
  const progress = options.progress ?? (() => {})
  const started = performance.now()
  const loadAtStart = loadavg().map((l) => round(l, 2))
  const startedAt = new Date().toISOString()
  const binary = await buildMediaGenerator()
  if (binary === undefined) throw new Error('the load bench needs a C compiler (cc) to build bench/native/media-gen.c')
  const dir = await mkdtemp(join(tmpdir(), 'pa-load-'))
  let server: LoadServer | undefined
  let fakes: FakesProcess | undefined
  let media: NativeMedia | undefined
  let speed: SpeedProbe | undefined
  const fs = new FakeFreeSwitch()
  const result: LoadStep[] = []
  let pinned = false
  const workers = Number(process.env.LOAD_SERVER_WORKERS ?? '1')
  const serverPinned = workers > 1 ? 'all threads' : 'event loop'
  let idleRss = 0
  let idleMemory: LoadMemoryStats | undefined
  let idleCpu = 0
  let keepLog: string | undefined // the server's log, kept when a call never streamed (else it goes with `dir`)
  let stoppedBecause: string | undefined
  let serverWarnings: Array<[string, number]> = []
  let serverNodeArgs: readonly string[] = []
  const talkWindows: Array<{ calls: number, from: number, to: number }> = []
  let stalls: LoadResult['stalls']
  // STALL_RECORD in the environment keeps the record (to read with a CPU profile); else it goes with the run's directory.
  const stallPath = process.env.STALL_RECORD ?? join(dir, 'stalls.json')
  try {
    const speechPath = join(dir, 'caller.raw')
    await writeCallerSpeech(speechPath, 30)
    fakes = await FakesProcess.start(signal)
    server = await LoadServer.start({ fakesPort: fakes.port, dir }, signal, options.stalls === true ? { stallRecord: stallPath } : {})
    serverNodeArgs = server.nodeArgs
    // One process: its event loop alone on CPU 1. Its other threads pinned there too took the
    // loop's CPU whenever V8 marked or compiled (loop p99 11.7-83.5 ms, pacing p99 19.8-28.6 at
    // 500 calls; 9.7-23.4 and 1.95-5.6 with them on either CPU: docs/benchmarks.md, twenty-first
    // session), which no unpinned service pays. Workers are placed by the scheduler either way.
    pinned = options.pinCpus !== false && await pinApart(server.pid, serverPinned)
    if (pinned) await taskset('0', fakes.pid)
    // Spawned after the pinning, so it inherits CPU 0.
    // Every 4th call's audio is read and timed: 125 calls' worth of intervals at 500.
    media = await NativeMedia.start({ binary, speechPath, readEvery: READ_EVERY })
    // How fast the cores ran each window, apart from us (bench/speed-probe.ts).
    speed = await SpeedProbe.start()
    progress(`load: server pid ${server.pid} on port ${server.port}${pinned ? ` (${workers > 1 ? 'its primary on CPU 1, workers on either' : 'its event loop on CPU 1, its other threads on either'}; driver, generator and fakes on CPU 0)` : ''}`)
    await sleep(3000, undefined, { signal })
    idleMemory = await server.memory()
    idleRss = idleMemory.rss
    const [srv, gen, fk] = [server, media, fakes]

    /** Every waterfall so far: a turn's record can arrive after its window ended (the reply still playing). */
    const marks: LoadMark[] = []
    const measure = async (ms: number, name: string, settle = false): Promise<{ figures: WindowFigures, marks: readonly LoadMark[], from: number, to: number, memory?: LoadMemoryStats }> => {
      const [t0, machine0] = [await threadTimes(srv.pid), await machineTimes()]
      // With workers, each one's event loop is `main <pid>` (proc-threads.ts), its tid its pid.
      const stopPerf = startPerf(options.perfDir, [srv.pid, ...[...t0].filter(([, t]) => t.name.startsWith('main ')).map(([tid]) => tid)], name)
      const loop0 = await scrapeLoop(srv.metricsPort) // a scrape resets prom-client's histogram: the window starts clean
      await gen.reset()
      const driver0 = process.cpuUsage()
      const fakes0 = await fk.cpuMs()
      const wall0 = performance.now()
      const epoch0 = Date.now()
      await sleep(ms, undefined, { signal })
      await stopPerf?.()
      const wallMs = performance.now() - wall0
      const cpuSpeedUs = speed?.between(wall0, wall0 + wallMs).map((c) => c.medianUs)
      const epoch1 = Date.now()
      const [t1, machine1] = [await threadTimes(srv.pid), await machineTimes()]
      const loop = await scrapeLoop(srv.metricsPort)
      const gen1 = await gen.report()
      const driver = process.cpuUsage(driver0)
      const fakesMs = await fk.cpuMs() - fakes0
      // The settle is still talk: the calls' memory is taken there, after the window, so that the
      // GCs it forces are in no window's figures.
      const memory = settle ? await sampleMemory(srv, REPLY_SETTLE_MS, signal) : undefined
      marks.push(...await srv.marks())
      const inWindow = marks.filter((m) => m.ttsAudioAt !== undefined && m.ttsAudioAt >= epoch0 && m.ttsAudioAt < epoch1)
      const threads = threadShares(t0, t1, wallMs)
      const mainName = t1.get(srv.pid)?.name ?? ''
      // With worker processes the calls' event loops are theirs (proc-threads names each `main <pid>`): the busiest.
      const workerLoops = Object.entries(threads).filter(([n]) => n.startsWith('main ')).map(([, v]) => v)
      const main = workerLoops.length > 0 ? Math.max(...workerLoops) : ((t1.get(srv.pid)?.cpuMs ?? 0) - (t0.get(srv.pid)?.cpuMs ?? 0)) / wallMs
      const total = Object.values(threads).reduce((a, b) => a + b, 0)
      return {
        marks: inWindow,
        from: epoch0,
        to: epoch1,
        ...(memory !== undefined ? { memory } : {}),
        figures: {
          wallMs: round(wallMs, 0),
          serverCpu: round(total, 3),
          mainThreadCpu: round(main, 3),
          loopWait: round(loopWaitShare(t0, t1, srv.pid, wallMs), 3),
          otherThreads: Object.fromEntries(Object.entries(threads).filter(([n, v]) => v >= 0.005 && n !== mainName).map(([n, v]) => [n, round(v, 3)])),
          loopP99Ms: round(loop.p99 - LOOP_RESOLUTION_MS, 1),
          loopMaxMs: round(loop.max - LOOP_RESOLUTION_MS, 1),
          heldFrames: loop.held - loop0.held,
          heldLate: loop.heldLate - loop0.heldLate,
          heldRealtime: loop.realtime,
          pacingP50Ms: gen1.pacingP50Ms,
          pacingP99Ms: gen1.pacingP99Ms,
          pacingMaxMs: gen1.pacingMaxMs,
          pacingGaps: gen1.gaps,
          pacingStarts: gen1.starts,
          pacingLeads: gen1.leads,
          pacingAllP99Ms: gen1.allP99Ms,
          pacingAllMaxMs: gen1.allMaxMs,
          received: gen1.received,
          expectedFrames: Math.round(Math.ceil(gen1.calls / READ_EVERY) * wallMs / 20),
          generatorCpu: round(gen1.cpu, 3),
          generatorWakeP99Ms: gen1.wakeP99Ms,
          simulatorCpu: round((driver.user + driver.system) / 1000 / wallMs, 3),
          fakesCpu: round(fakesMs / wallMs, 3),
          ...restOfMachine(machine0, machine1, wallMs, total + gen1.cpu + (driver.user + driver.system) / 1000 / wallMs + fakesMs / wallMs),
          ...(cpuSpeedUs !== undefined ? { cpuSpeedUs } : {}),
        },
      }
    }

    const idle = (await measure(quietMs, 'idle')).figures
    idleCpu = idle.serverCpu
    progress(`load: idle server ${idle.serverCpu} cores, RSS ${round(idleRss / MB, 1)} MB, V8 committed ${round(idleMemory.heapCommitted / MB, 1)} MB (young generation ${round(idleMemory.youngCommitted / MB, 1)})`)
    let placed = 0
    let byUs = 0 // calls the bench hung up itself
    // Memory per call is the slope from the previous step: from the idle server it would carry
    // what the first calls start once (docs/benchmarks.md, "Memory per call (tenth session)").
    let previous: { calls: number, rss: number, heap: number } | undefined
    for (const target of steps) {
      if (signal.aborted) break
      await gen.talk(false)
      if (!turns) byUs += (await fs.close()).length
      const rampStart = performance.now()
      // Up to N live calls: calls the server ended in an earlier step are replaced.
      while (fs.activeCalls < target) {
        for (let i = 0; i < Math.max(1, Math.round(rampPerSecond / 10)) && fs.activeCalls < target; i++, placed++) {
          fs.placeCall({ port: srv.port, destination: LOAD_DID, callerNumber: `+39333${String(1_000_000 + placed).slice(1)}`, unicastEngine: gen, maxCallMs: 3_600_000 })
        }
        await sleep(100, undefined, { signal })
      }
      while (gen.flowing.size < target && performance.now() - rampStart < 20_000 + target * 50) await sleep(200, undefined, { signal })
      const flowing = gen.flowing.size
      if (flowing < target) keepLog = join(tmpdir(), `pa-load-server-${Date.now()}.log`)
      progress(`load: ${target} calls placed, ${flowing} streaming after ${round((performance.now() - rampStart) / 1000, 1)} s${flowing < target ? `; never streamed: ${gen.neverFlowed().join('; ')} (server log kept: ${keepLog})` : ''}`)
      // Talk first: 45 s of warm-up (every call has had four turns: after one, 10 s, V8 was still
      // compiling the turn's code, docs/benchmarks.md "CPU per turn, warm"), then the talk window.
      if (turns) await gen.talk(true)
      await sleep(warmMs, undefined, { signal })
      const talk = await measure(windowMs, `${target}-talk`, turns)
      talkWindows.push({ calls: target, from: talk.from, to: talk.to })
      const streamingAtEnd = gen.flowing.size
      const ended = placed - byUs - fs.activeCalls
      // Then quiet: the last utterances' replies over, the same calls warm, media and the VAD alone.
      if (turns) await gen.talk(false)
      if (turns) await sleep(QUIET_SETTLE_MS, undefined, { signal })
      const quiet = turns ? await measure(quietMs, `${target}-quiet`) : talk
      const quietMemory = await srv.memory()
      // Talking calls' memory where there are turns (taken in the talk settle), else the quiet calls'.
      const memory = talk.memory ?? quietMemory
      const perCall = (now: number, before: number | undefined): number => previous === undefined || before === undefined ? Number.NaN : (now - before) / MB / (target - previous.calls)
      const heap = memory.heapUsed + memory.external
      const step = { ...stepFigures({ calls: target, flowing, streamingAtEnd, ended }, idleCpu, quiet.figures, talk, { rss: perCall(memory.rss, previous?.rss), heap: perCall(heap, previous?.heap) }), memory, quietMemory }
      progress(`load: ${target} calls: after a GC (${talk.memory !== undefined ? 'talking, mean of the samples' : 'quiet'}) RSS ${round(memory.rss / MB, 1)} MB, heap + external ${round(heap / MB, 1)} MB, V8 committed ${round(memory.heapCommitted / MB, 1)} MB (young generation ${round(memory.youngCommitted / MB, 1)}); quiet: heap + external ${round((quietMemory.heapUsed + quietMemory.external) / MB, 1)} MB`)
      previous = { calls: target, rss: memory.rss, heap }
      result.push(step)
      progress(`load: ${target} calls: server ${step.talk.serverCpu} cores talking (${step.quiet.serverCpu} quiet), loop p99 ${step.talk.loopP99Ms} / max ${step.talk.loopMaxMs} ms (waiting for a CPU ${step.talk.loopWait}), pacing p99 ${step.talk.pacingP99Ms} / max ${step.talk.pacingMaxMs} ms (with reply starts ${step.talk.pacingAllP99Ms}), ${step.turns} turns, driver ${step.driverCpu} cores`)
      if (flowing < target * (1 - MAX_LOST)) { stoppedBecause = `only ${flowing} of ${target} calls streamed`; break }
      if (streamingAtEnd < target) progress(`load: ${target - streamingAtEnd} calls stopped streaming during the step (${ended} ended by the server since the start)`)
      // An overloaded server ends calls (provider replies time out in its queue, dead air): the
      // steps after that measure the wreck, not the server.
      if (streamingAtEnd < target * (1 - MAX_LOST)) { stoppedBecause = `${target - streamingAtEnd} of ${target} calls ended during the step: the server could not carry them`; break }
    }
  } finally {
    await media?.talk(false).catch(() => {})
    progress(`load: hanging up ${fs.activeCalls} calls`)
    const giveUp = new AbortController()
    await Promise.race([fs.close(), sleep(20_000, undefined, { signal: giveUp.signal }).catch(() => {})])
    giveUp.abort()
    await media?.close()
    await speed?.close()
    await server?.stop()
    await fakes?.stop()
    serverWarnings = await warningSummary(join(dir, 'server.log'))
    if (keepLog !== undefined) await copyFile(join(dir, 'server.log'), keepLog).catch(() => {})
    if (options.stalls === true) stalls = await stallSummary(stallPath, talkWindows, STALL_REPORT_MS)
    if (pinned) await unpinDriver()
    await rm(dir, { recursive: true, force: true })
  }
  return {
    steps: result,
    idleServerCpu: idleCpu,
    idleMemory,
    stoppedBecause,
    serverWarnings,
    serverNodeArgs,
    stalls,
    serverWorkers: workers,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, pinned, ...(workers > 1 ? {} : { serverPinned }) },
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadavg().map((l) => round(l, 2)),
    durationSeconds: round((performance.now() - started) / 1000, 0),
    startedAt,
    windows: { quietMs, warmMs, windowMs },
    turns,
  }
}

/** Samples of the server's memory after a GC spread over `ms`, averaged (the calls caught in every phase of their cycle). */
const MEMORY_SAMPLES = 4
export async function sampleMemory (srv: LoadServer, ms: number, signal?: AbortSignal): Promise<LoadMemoryStats> {
  const samples: LoadMemoryStats[] = []
  for (let i = 0; i < MEMORY_SAMPLES; i++) {
    await sleep(ms / MEMORY_SAMPLES, undefined, signal !== undefined ? { signal } : {})
    samples.push(await srv.memory())
  }
  const mean = (key: keyof LoadMemoryStats): number => samples.reduce((n, s) => n + s[key], 0) / samples.length
  return {
    rss: mean('rss'), heapUsed: mean('heapUsed'), external: mean('external'), arrayBuffers: mean('arrayBuffers'),
    activeCalls: mean('activeCalls'), youngCommitted: mean('youngCommitted'), heapCommitted: mean('heapCommitted'),
  }
}

interface StepCalls { readonly calls: number, readonly flowing: number, readonly streamingAtEnd: number, readonly ended: number }

function stepFigures ({ calls, flowing, streamingAtEnd, ended }: StepCalls, idleCpu: number, quiet: WindowFigures, talk: { figures: WindowFigures, marks: readonly LoadMark[] }, mb: { rss: number, heap: number }): LoadStep {
  const turns = talk.marks.length
  // What the turns cost on top of the calls' media: the talk window's CPU less the quiet window's rate.
  const turnCpuMs = (talk.figures.serverCpu - quiet.serverCpu) * talk.figures.wallMs
  return {
    calls,
    flowing,
    streamingAtEnd,
    endedSoFar: ended,
    quiet,
    talk: talk.figures,
    turns,
    // Over the idle server's own CPU (timers, metrics): what the calls add.
    cpuPerCallPct: round((talk.figures.serverCpu - idleCpu) / calls * 100, 3),
    quietCpuPerCallPct: round((quiet.serverCpu - idleCpu) / calls * 100, 3),
    cpuPerTurnMs: turns > 0 ? round(turnCpuMs / turns, 1) : Number.NaN,
    mbPerCall: round(mb.rss, 4),
    heapMbPerCall: round(mb.heap, 4),
    driverCpu: round(talk.figures.generatorCpu + talk.figures.simulatorCpu, 3),
    ...turnTimes(talk.marks),
  }
}

/** The server's warnings and errors, counted by message, most frequent first: why calls ended. */
async function warningSummary (path: string): Promise<Array<[string, number]>> {
  const counts = new Map<string, number>()
  for (const line of (await readFile(path, 'utf8').catch(() => '')).split('\n')) {
    try {
      const record = JSON.parse(line) as { level?: number, msg?: string, code?: string }
      if ((record.level ?? 0) < 40) continue
      const key = `${record.msg ?? '?'}${record.code !== undefined ? ` (${record.code})` : ''}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    } catch {
      // A line cut short at exit.
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8)
}

/**
 * The server's event-loop delay (ms) since the last scrape, from its Prometheus /metrics. With
 * worker processes (`LOAD_SERVER_WORKERS`) each process's is a series labelled `worker`: the
 * worst of them, since the goal holds for every event loop.
 */
async function scrapeLoop (port: number): Promise<{ p99: number, max: number, held: number, heldLate: number, realtime: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const value = (name: string): number => {
    const all = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'gm'))].map((m) => Number(m[1]) * 1000)
    return all.length === 0 ? Number.NaN : Math.max(...all)
  }
  // The shared media socket's held frames (lib/ops/media-socket-metrics.ts), summed over the workers by the merge.
  const held = (kind: string): number => Number(new RegExp(`^phone_agent_media_socket_datagrams_total\\{kind="${kind}"\\} ([0-9.eE+-]+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
  return { p99: value('nodejs_eventloop_lag_p99_seconds'), max: value('nodejs_eventloop_lag_max_seconds'), held: held('held'), heldLate: held('held_late'), realtime: Number(/^phone_agent_media_socket_held_realtime ([0-9.eE+-]+)$/m.exec(text)?.[1] ?? Number.NaN) }
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const quick = args.includes('--quick')
  const noTurns = args.includes('--no-turns')
  const stepsArg = args.find((a) => a.startsWith('--steps='))?.slice('--steps='.length)
  const steps = stepsArg !== undefined ? stepsArg.split(',').map(Number) : quick ? [20, 50] : undefined
  // --workers=N: the server as `server.workers: N` runs it (bench/load-server-primary.ts).
  const workers = Number(args.find((a) => a.startsWith('--workers='))?.slice('--workers='.length) ?? process.env.LOAD_SERVER_WORKERS ?? '1')
  if ((steps !== undefined && !steps.every((n) => Number.isInteger(n) && n > 0)) || !Number.isInteger(workers) || workers < 1) {
    console.error('usage: node --import tsx bench/load.ts [--quick] [--steps=100,200,300] [--no-turns] [--workers=N] [--stalls] [--perf=DIR] [--no-write]')
    process.exit(2)
  }
  process.env.LOAD_SERVER_WORKERS = String(workers)
  const perfDir = perfServerArgs(args.find((a) => a.startsWith('--perf='))?.slice('--perf='.length))
  const signal = abortOnInterrupt('load')
  const result = await runLoadBench({
    steps,
    ...(quick ? { quietMs: 3000, warmMs: 10_000, windowMs: 10_000 } : {}),
    ...(noTurns ? { turns: false } : {}),
    ...(args.includes('--stalls') ? { stalls: true } : {}),
    ...(perfDir !== undefined ? { perfDir } : {}),
    signal,
    progress: (line) => { console.error(line) },
  })
  const command = `node --import tsx bench/load.ts ${args.filter((a) => a !== '--no-write').join(' ')}`.trim()
  const section = formatLoadSection(result, command)
  console.log(section)
  console.log(JSON.stringify(result))
  if (!args.includes('--no-write')) {
    const path = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url))
    const name = noTurns ? 'load-media' : workers > 1 ? 'load-workers' : 'load' // as formatLoadSection names it
    await writeFile(path, spliceSection(await readFile(path, 'utf8'), name, section))
    console.error(`load: BENCHMARKS.md section "${name}" written`)
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
