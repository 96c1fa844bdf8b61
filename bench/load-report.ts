/**
 * bench/load.ts's figures and their BENCHMARKS.md section: a table by N and, for each of
 * issue 18's goals, met or missed with the measured figure.
 */
import { cell, markdownTable, MB, round } from './capacity-stats.ts'
import { HOLD_AHEAD_MS } from '../lib/media/stream/endpoint-options.ts'
import { FAKE_LATENCY, replyText } from './load-fakes.ts'
import type { LoadMark, LoadMemoryStats } from './load-protocol.ts'
import { percentile } from './stats.ts'

export interface WindowFigures {
  readonly wallMs: number
  /** Server CPU over all its threads, as a share of one core (from /proc/PID/task/TID/stat). */
  readonly serverCpu: number
  readonly mainThreadCpu: number
  /** Other threads by name with at least 0.005 of a core. */
  readonly otherThreads: Readonly<Record<string, number>>
  /** Event-loop delay beyond the sampling timer's period, from the server's /metrics. */
  readonly loopP99Ms: number
  readonly loopMaxMs: number
  /** The most one event loop's thread was runnable but off a CPU, as a share of the window (schedstat). Absent in older results. */
  readonly loopWait?: number
  /** A reply's frames the shared socket's helper held and sent when due, and those it sent over 1 ms late (its thread short of CPU). Absent in older results. */
  readonly heldFrames?: number
  readonly heldLate?: number
  /** Server processes whose held-frame thread ran at realtime priority (media.stream.realtimeSend granted). Absent in older results. */
  readonly heldRealtime?: number
  /** |interval between two of the server's datagrams to one call - 20 ms| (kernel receive timestamps). */
  readonly pacingP50Ms: number
  readonly pacingP99Ms: number
  readonly pacingMaxMs: number
  /** Intervals over 100 ms with silence at an end, left out of pacing (a cold call's keep-alive second). Absent in older results. */
  readonly pacingGaps?: number
  /** Replies' first frames and their lead bursts, counted apart from pacing (media-gen.c BURST_NS). Absent in older results. */
  readonly pacingStarts?: number
  readonly pacingLeads?: number
  /** Pacing p99 / max with those counted in, as the bench measured before the ninth session. */
  readonly pacingAllP99Ms?: number
  readonly pacingAllMaxMs?: number
  readonly received: number
  readonly expectedFrames: number
  readonly generatorCpu: number
  readonly generatorWakeP99Ms: number
  /** This process: the simulator's Event Socket side. */
  readonly simulatorCpu: number
  readonly fakesCpu: number
  /** The rest of the machine (other processes, the kernel's threads), and what the hypervisor stole, in cores. Absent in older results. */
  readonly machineOtherCpu?: number
  readonly stealCpu?: number
  /** Each CPU's median thread CPU time, µs, for bench/native/speed-probe.c's fixed work over the window: larger is a slower machine. Absent in older results. */
  readonly cpuSpeedUs?: readonly number[]
}

export interface TurnTimes {
  /** Speech end to the reply's audio in hand, less the fakes' fixed latencies and the end-silence wait. */
  readonly processingP50Ms: number
  readonly processingP99Ms: number
  /** The reply's audio in hand to its first frame handed to the socket. */
  readonly alignmentP50Ms: number
  readonly alignmentP99Ms: number
}

export interface LoadStep extends TurnTimes {
  readonly calls: number
  /** Calls streaming when the step's windows began, and when its talk window ended. */
  readonly flowing: number
  readonly streamingAtEnd: number
  /** Calls the server had ended (not the driver) since the run began. */
  readonly endedSoFar: number
  readonly quiet: WindowFigures
  readonly talk: WindowFigures
  readonly turns: number
  readonly cpuPerCallPct: number
  readonly quietCpuPerCallPct: number
  /** (talk CPU - quiet CPU rate x talk window) / turns: a turn's cost with the VAD on the caller's speech. */
  readonly cpuPerTurnMs: number
  readonly mbPerCall: number
  /** The same for heapUsed + external (ArrayBuffers included): what the calls hold, without allocator slack. */
  readonly heapMbPerCall: number
  readonly driverCpu: number
  /**
   * The server's memory after a GC that mbPerCall and heapMbPerCall are from: with turns the mean
   * of samples taken while the callers still talk after the talk window, else after the quiet
   * window (absent in older results, whose figures were all after the quiet window).
   */
  readonly memory?: LoadMemoryStats
  /** After the quiet window (absent in older results). */
  readonly quietMemory?: LoadMemoryStats
}

export interface LoadResult {
  readonly steps: readonly LoadStep[]
  /** The server's CPU with no call (its timers, the metrics): taken out of the per-call figures. */
  readonly idleServerCpu: number
  /** The idle server's memory after a GC, before the first call (absent in older results). */
  readonly idleMemory?: LoadMemoryStats
  readonly stoppedBecause: string | undefined
  /** The server's warnings and errors by message, most frequent first. */
  readonly serverWarnings: ReadonlyArray<readonly [string, number]>
  /** Node flags the server ran with (bench/load-children.ts SERVER_NODE_ARGS and LOAD_SERVER_NODE_ARGS). Absent in older results. */
  readonly serverNodeArgs?: readonly string[]
  /** With --stalls: each talk window's loop stalls of 40 ms or more, by what held the loop (bench/stall-recorder.ts stallCause). */
  readonly stalls?: ReadonlyArray<{ readonly calls: number, readonly causes: Readonly<Record<string, { readonly count: number, readonly longestMs: number }>> }>
  /** Worker processes (`--workers=N`, as `server.workers: N`); absent or 1: one process. */
  readonly serverWorkers?: number
  readonly machine: {
    readonly cpus: number
    readonly cpuModel: string
    readonly node: string
    readonly pinned: boolean
    /** What of one server process was pinned to CPU 1 (absent in older results: all its threads). */
    readonly serverPinned?: 'all threads' | 'event loop'
  }
  readonly loadAverageAtStart: readonly number[]
  readonly loadAverageAtEnd: readonly number[]
  readonly durationSeconds: number
  /** When the run began (ISO 8601, UTC). */
  readonly startedAt: string
  readonly windows: { readonly quietMs: number, readonly warmMs: number, readonly windowMs: number }
  /** False: --no-turns, the callers stayed quiet. */
  readonly turns: boolean
}

const END_SILENCE_MS = 500
/** The fakes' share of a turn: STT, the LLM until the sentence's last piece and its stop, TTS. */
const FIXED_MS = END_SILENCE_MS + FAKE_LATENCY.sttMs + FAKE_LATENCY.llmFirstMs +
  replyText(1).split(/(?<= )/).length * FAKE_LATENCY.llmPieceMs + FAKE_LATENCY.ttsMs

export function turnTimes (marks: readonly LoadMark[]): TurnTimes {
  const processing: number[] = []
  const alignment: number[] = []
  for (const m of marks) {
    if (m.speechEndAt !== undefined && m.ttsAudioAt !== undefined) processing.push(m.ttsAudioAt - m.speechEndAt - FIXED_MS)
    if (m.ttsAudioAt !== undefined && m.firstFrameAt !== undefined) alignment.push(m.firstFrameAt - m.ttsAudioAt)
  }
  return {
    processingP50Ms: percentile(processing, 50),
    processingP99Ms: percentile(processing, 99),
    alignmentP50Ms: percentile(alignment, 50),
    alignmentP99Ms: percentile(alignment, 99),
  }
}

export const GOALS = {
  calls: 500, pacingP99Ms: 5, loopP99Ms: 20, driverCpu: 0.2, mediaPerCallPct: 0.1, turnCpuMs: 10, processingP50Ms: 5, alignmentP50Ms: 20, alignmentP99Ms: 40, mbPerCall: 0.1,
} as const

function verdict (ok: boolean | undefined, value: number | null = 0): string {
  // null: a NaN that went through JSON (a report rebuilt from a run's JSON line).
  return ok === undefined || value === null || !Number.isFinite(value) ? 'not measured' : ok ? '**met**' : '**missed**'
}

/** Least-squares slope of y over x: the marginal cost of one more call, fixed costs left out. */
export function slope (points: ReadonlyArray<readonly [number, number]>): number {
  if (points.length < 2) return Number.NaN
  const mx = points.reduce((a, [x]) => a + x, 0) / points.length
  const my = points.reduce((a, [, y]) => a + y, 0) / points.length
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  return sxx === 0 ? Number.NaN : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx
}

/** Loop delay p99 (ms) above which a step is taken as saturated: the server had no more CPU to give. */
const SATURATED_LOOP_MS = 50

/** A step that lost more than this share of its calls measured an overloaded server, not the calls. */
export const MAX_LOST = 0.05

/** With --stalls: what held the loop in each talk window's stalls of 40 ms or more. */
function stallLines (r: LoadResult): string[] {
  if (r.stalls === undefined) return []
  const step = ({ calls, causes }: { calls: number, causes: Readonly<Record<string, { count: number, longestMs: number }>> }): string =>
    `${calls} calls: ${Object.entries(causes).sort((a, b) => b[1].count - a[1].count).map(([cause, c]) => `${cause} ${c.count} (longest ${Math.round(c.longestMs)} ms)`).join(', ') || 'none'}`
  return [`- **Loop stalls of 40 ms or more in the talk windows** (\`--stalls\`, bench/stall-recorder.ts: a full GC or a scavenge in it, else the server's other threads running, else its main thread running, else other processes holding the CPU): ${r.stalls.map(step).join('; ')}.`]
}

/**
 * Memory per call: the least-squares slope over the steps (two at least) of the server's memory
 * after a GC, talking calls where there are turns. Never from the idle server: the first calls
 * start what every later call shares (V8's young generation grown to its cap, the compiled
 * code, lazily loaded modules; docs/benchmarks.md, "Memory per call (tenth session, helper 10b)").
 * Results from before the slope (no `memory` on their steps) keep their per-step figures.
 */
function memoryLine (r: LoadResult, steps: readonly LoadStep[]): string {
  const measured = steps.filter((s) => s.memory !== undefined)
  const goal = `- **Memory ≤ ${GOALS.mbPerCall} MB per call**: `
  if (measured.length < steps.length || measured.length === 0) {
    const worst = (f: (s: LoadStep) => number): number => Math.max(...steps.map(f).filter(Number.isFinite))
    return `${goal}at most ${cell(worst((s) => s.mbPerCall), 3)} MB of RSS after a GC (the JavaScript heap and buffers: ${cell(worst((s) => s.heapMbPerCall), 3)} MB): ${verdict(steps.length > 0 ? worst((s) => s.mbPerCall) <= GOALS.mbPerCall : undefined)}.`
  }
  const per = (f: (m: LoadMemoryStats) => number): number => slope(measured.map((s) => [s.calls, f(s.memory as LoadMemoryStats) / MB] as const))
  const heap = per((m) => m.heapUsed + m.external)
  const rss = per((m) => m.rss)
  const committed = per((m) => m.heapCommitted)
  const quiet = measured.every((s) => s.quietMemory !== undefined) ? slope(measured.map((s) => [s.calls, ((s.quietMemory as LoadMemoryStats).heapUsed + (s.quietMemory as LoadMemoryStats).external) / MB] as const)) : Number.NaN
  const kind = r.turns ? 'talking calls (the mean of samples taken while the callers talk, after the talk window)' : 'quiet calls'
  return `${goal}the slope over ${measured.map((s) => s.calls).join(', ')} calls of the server's memory after a GC, ${kind}: ` +
    `the JavaScript heap and buffers (heapUsed + external) ${cell(heap, 3)} MB per call, RSS ${cell(rss, 3)} (V8's committed heap ${cell(committed, 3)})` +
    `${r.turns ? `; the same calls quiet, heap and buffers ${cell(quiet, 3)}` : ''}: ${verdict(Number.isFinite(heap) ? heap <= GOALS.mbPerCall : undefined, heap)} by the heap and buffers. ` +
    'RSS also keeps what the allocator took at the busiest moment and V8 the headroom it commits ahead of the heap: it is said, not judged.'
}

/**
 * A step held the calls goal's timing: every call still streaming, pacing p99 and loop delay p99
 * within the goals. Quiet calls without turns send no reply and, cold, only a keep-alive a second:
 * no interval to pace (null in a result read back from JSON, NaN fresh); such a step is judged on
 * its loop alone.
 */
export function holdsCallGoal (s: LoadStep, turns: boolean | undefined): boolean {
  const pacing = s.talk.pacingP99Ms as number | null
  const paced = pacing === null || !Number.isFinite(pacing) ? turns === false : pacing <= GOALS.pacingP99Ms
  return s.streamingAtEnd === s.calls && paced && s.talk.loopP99Ms <= GOALS.loopP99Ms
}

export function goalLines (r: LoadResult): string[] {
  // Per-call, per-turn and memory figures only from steps that kept their calls.
  const steps = r.steps.filter((s) => s.streamingAtEnd >= s.calls * (1 - MAX_LOST))
  const passing = r.steps.filter((s) => holdsCallGoal(s, r.turns))
  const largest = passing.at(-1)
  const first = r.steps.find((s) => !passing.includes(s))
  const worst = (f: (s: LoadStep) => number, from: readonly LoadStep[] = steps): number => Math.max(...from.map(f).filter(Number.isFinite))
  const any = steps.length > 0
  // The slope only below saturation: a server held at its core's ceiling (or short of it, on a
  // shared machine) adds no CPU per call, and its loop delay shows it.
  const marginal = slope(steps.filter((s) => s.quiet.loopP99Ms <= SATURATED_LOOP_MS).map((s) => [s.calls, s.quiet.serverCpu] as const)) * 100
  // Cost per call and per turn are judged where the goals set them: at GOALS.calls (or the largest
  // N short of saturation). At a small N the per-process costs that do not grow with the calls
  // (timers, GC, the scheduler's wake-ups) are shared by fewer calls and turns; that figure is said too.
  const unsaturated = steps.filter((s) => s.quiet.loopP99Ms <= SATURATED_LOOP_MS)
  const judged = unsaturated.find((s) => s.calls === GOALS.calls) ?? unsaturated.at(-1) ?? steps[0]
  const firstQuiet = judged?.quietCpuPerCallPct ?? Number.NaN
  const firstTurn = judged?.cpuPerTurnMs ?? Number.NaN
  const smallest = (f: (s: LoadStep) => number, digits: number): string => steps[0] !== undefined && steps[0] !== judged ? ` (at ${steps[0].calls} calls ${cell(f(steps[0]), digits)})` : ''
  const note = steps.length < r.steps.length ? [`- Steps that lost more than ${MAX_LOST * 100} % of their calls are left out of the figures below the first two lines: ${r.steps.filter((s) => !steps.includes(s)).map((s) => `${s.calls} (${s.streamingAtEnd} left)`).join(', ')}.`] : []
  const load = r.loadAverageAtStart[0] ?? 0
  const quietness = load > 1
    ? [`- **Not a quiet machine** (load average ${load} at start, ${r.loadAverageAtEnd[0] ?? '-'} at the end, with ${r.machine.cpus} CPUs): other processes shared the server's core, so the timing figures (loop delay, pacing, processing, alignment) carry their load, and CPU times run higher than on a quiet machine.`]
    : []
  // A cold quiet call (quiet-idle.ts) sends one keep-alive frame a second. The generator
  // (bench/native/media-gen.c) counts an interval over 100 ms with silence at either end as a gap,
  // not pacing; results written before it did show that second as a ~1000 ms deviation.
  const gaps = r.steps.reduce((n, s) => n + (s.talk.pacingGaps ?? 0) + (s.quiet.pacingGaps ?? 0), 0)
  const keepAlive = r.steps.some((s) => s.talk.pacingGaps === undefined && s.talk.pacingMaxMs >= 900)
    ? ['- **Pacing counts the keep-alive gaps**: a quiet call cold for 5 s (no sound from the caller, no audio of ours; lib/media/stream/quiet-idle.ts) sends one silence frame a second instead of one per 20 ms, and the generator of this run timed that second as one interval (about 1000 ms). With the callers quiet the pacing columns are that gap, not lateness; with callers talking, its max and (where many calls went cold in the window) its p99.']
    : gaps > 0
      ? [`- **Pacing leaves out ${gaps} gaps**: intervals over 100 ms with silence at either end (a quiet call cold for 5 s sends one keep-alive frame a second, lib/media/stream/quiet-idle.ts, and warms up again whenever the caller makes a sound). Between two frames of a reply every interval counts, however long.`]
      : []
  // A reply's first frame and its lead burst (media-gen.c BURST_NS): not pacing, but said, with
  // the p99 they would make (one interval in ~90 of the bench's 1.8 s replies is a whole tick).
  const starts = r.steps.reduce((n, s) => n + (s.talk.pacingStarts ?? 0), 0)
  const leads = r.steps.reduce((n, s) => n + (s.talk.pacingLeads ?? 0), 0)
  const withStarts = r.steps.filter((s) => s.talk.pacingAllP99Ms !== undefined).map((s) => `${cell(s.talk.pacingAllP99Ms, 2)} / ${cell(s.talk.pacingAllMaxMs, 1)} ms at ${s.calls}`)
  const replyStarts = leads + starts > 0
    ? [`- **Pacing leaves out ${starts} replies' first frames and ${leads} lead bursts** (talk windows): a reply's first frame follows idle silence sent on another clock, and the pacer sends it with \`media.stream.leadFrames\` more at once (lib/media/stream/call-pacer.ts), which FreeSWITCH's write timer spaces; counted in, pacing p99 / max would be ${withStarts.join(', ')}.`]
    : []
  const heldSteps = r.steps.filter((s) => Number.isFinite(s.talk.heldFrames) && (s.talk.heldFrames ?? 0) > 0)
  const held = heldSteps.length > 0
    ? [`- **Held frames** (talk windows): a reply's frames handed to the shared socket's helper ${HOLD_AHEAD_MS} ms ahead and sent when due by its own thread (lib/media/native/held-send.c), so the event loop's delays up to that do not reach the pacing; sent over 1 ms late (the thread short of CPU): ${heldSteps.map((s) => `${s.talk.heldLate ?? 0} of ${s.talk.heldFrames ?? 0} at ${s.calls}`).join(', ')}.${realtimeNote(heldSteps)}`]
    : []
  const machineSteps = r.steps.filter((s) => s.talk.machineOtherCpu !== undefined)
  const machine = machineSteps.length > 0
    ? [`- **The rest of the machine** (talk windows; /proc/stat): busy besides the server, driver and fakes (other processes, the kernel's threads), and stolen by the hypervisor, cores: ${machineSteps.map((s) => `${cell(s.talk.machineOtherCpu, 2)} / ${cell(s.talk.stealCpu, 2)} at ${s.calls}`).join(', ')}. A VM's neighbours slow every figure here without showing in any of our processes' CPU.${speedLine(machineSteps)}`]
    : []
  const waitSteps = r.steps.filter((s) => s.talk.loopWait !== undefined)
  const wait = waitSteps.length > 0
    ? [`- **Event loops waiting for a CPU** (talk windows; /proc/PID/task/TID/schedstat): the most any one event loop's thread was runnable but off a CPU, as a share of the window: ${waitSteps.map((s) => `${cell((s.talk.loopWait ?? 0) * 100, 1)} % at ${s.calls}`).join(', ')}. Each wait is loop delay that no code of that loop's caused: the cores were busy with other threads (V8's helpers, the other workers, the driver).`]
    : []
  return [
    ...quietness,
    ...note,
    ...keepAlive,
    ...replyStarts,
    ...held,
    ...machine,
    ...wait,
    ...stallLines(r),
    `- **≥ ${GOALS.calls} calls** with pacing p99 ≤ ${GOALS.pacingP99Ms} ms and loop delay p99 ≤ ${GOALS.loopP99Ms} ms${r.turns === false ? ' (no replies to pace without turns: the loop alone)' : ''}: ${verdict(any ? (largest?.calls ?? 0) >= GOALS.calls : undefined)}; ` +
      `largest step that held: ${largest?.calls ?? 'none'}${first !== undefined ? `; ${first.calls} calls: ${first.streamingAtEnd}/${first.calls} streaming at the end, pacing p99 ${cell(first.talk.pacingP99Ms, 1)} ms, loop p99 ${cell(first.talk.loopP99Ms, 1)} ms, ` +
      `the server's event-loop thread busy ${cell(first.talk.mainThreadCpu, 2)} of a core, all its threads ${cell(first.talk.serverCpu, 2)}` : ''}.`,
    `- **Driver ≤ ${GOALS.driverCpu} of a core** (generator + simulator): ${verdict(r.steps.length > 0 ? worst((s) => s.driverCpu, r.steps) <= GOALS.driverCpu : undefined)}; at most ${cell(worst((s) => s.driverCpu, r.steps), 3)} (every step).`,
    `- **Media + VAD ≤ ${GOALS.mediaPerCallPct} % of a core per call**: quiet line ${cell(firstQuiet, 3)} % at ${judged?.calls ?? '-'} calls${smallest((s) => s.quietCpuPerCallPct, 3)} ` +
      `(marginal, the slope of the quiet server CPU over N where its loop delay p99 was ≤ ${SATURATED_LOOP_MS} ms: ${cell(marginal, 3)} %), with callers talking and turns ${cell(judged?.cpuPerCallPct, 3)} %: ` +
      `${verdict(any ? firstQuiet <= GOALS.mediaPerCallPct : undefined, firstQuiet)} for the quiet line; the talking figure includes the turns.`,
    `- **CPU per AI turn ≤ ${GOALS.turnCpuMs} ms** (fakes excluded, the VAD on the caller's speech included): at ${judged?.calls ?? '-'} calls ${cell(firstTurn, 1)} ms${smallest((s) => s.cpuPerTurnMs, 1)} ` +
      `(a saturated N gives no figure: its quiet window is as busy as its talk window): ${verdict(any ? firstTurn <= GOALS.turnCpuMs : undefined, firstTurn)}.`,
    `- **Processing ≤ ${GOALS.processingP50Ms} ms p50**: at the smallest N ${cell(steps[0]?.processingP50Ms, 1)} ms: ${verdict(steps[0] === undefined ? undefined : steps[0].processingP50Ms <= GOALS.processingP50Ms, steps[0]?.processingP50Ms)}. ` +
      `**Media alignment ≤ ${GOALS.alignmentP50Ms} ms p50, ≤ ${GOALS.alignmentP99Ms} ms p99**: ${cell(steps[0]?.alignmentP50Ms, 1)} / ${cell(steps[0]?.alignmentP99Ms, 1)} ms: ` +
      `${verdict(steps[0] === undefined ? undefined : steps[0].alignmentP50Ms <= GOALS.alignmentP50Ms && steps[0].alignmentP99Ms <= GOALS.alignmentP99Ms, steps[0]?.alignmentP50Ms)}.`,
    memoryLine(r, steps),
  ]
}

/** How one server process shared the CPUs with the driver. */
export function onePinned (server: 'all threads' | 'event loop' | undefined): string {
  return server === 'event loop'
    ? 'the server\'s event loop pinned to CPU 1, its other threads (V8\'s GC and compiler helpers, the held-frame sender) on either CPU, the driver, media generator and fakes on CPU 0'
    : 'server pinned to CPU 1, driver, media generator and fakes to CPU 0'
}

export function formatLoadSection (r: LoadResult, command: string): string {
  const threads = (w: WindowFigures): string => [`main ${w.mainThreadCpu}`, ...Object.entries(w.otherThreads).map(([n, v]) => `${n} ${v}`)].join(', ')
  const rows = r.steps.map((s) => [
    String(s.calls),
    `${s.flowing} / ${s.streamingAtEnd}`,
    `${s.quiet.serverCpu} / ${s.talk.serverCpu}`,
    threads(s.talk),
    `${cell(s.quietCpuPerCallPct, 3)} / ${cell(s.cpuPerCallPct, 3)}`,
    `${s.turns}`,
    cell(s.cpuPerTurnMs, 1),
    `${cell(s.talk.loopP99Ms, 1)} / ${cell(s.talk.loopMaxMs, 1)}`,
    `${cell(s.talk.pacingP99Ms, 2)} / ${cell(s.talk.pacingMaxMs, 1)}`,
    `${cell(s.processingP50Ms, 1)} / ${cell(s.processingP99Ms, 1)}`,
    `${cell(s.alignmentP50Ms, 1)} / ${cell(s.alignmentP99Ms, 1)}`,
    `${cell(s.mbPerCall, 3)} (${cell(s.heapMbPerCall, 3)})`,
    `${s.driverCpu} (gen ${s.talk.generatorCpu}, wake p99 ${cell(s.talk.generatorWakeP99Ms, 2)} ms)`,
    cell(s.talk.fakesCpu, 2),
  ])
  const table = markdownTable([
    'calls', 'streaming start / end', 'server CPU quiet / talk (cores)', 'talk CPU by thread', 'CPU per call % quiet / talk', 'turns', 'CPU per turn ms',
    'loop delay p99 / max ms', 'pacing p99 / max ms', 'processing p50 / p99 ms', 'alignment p50 / p99 ms', 'MB per call RSS (heap)', 'driver CPU', 'fakes CPU',
  ], rows)
  const date = r.startedAt.slice(0, 16).replace('T', ' ')
  const name = !r.turns ? 'load-media' : (r.serverWorkers ?? 1) > 1 ? 'load-workers' : 'load'
  const how = r.turns
    ? `Each step: the calls ramp with the callers quiet, then the callers talk 37 % of every 10 s ` +
      `(one AI turn per call every 10 s through the receptionist's converse): ${r.windows.warmMs / 1000} s of warm-up, a ${r.windows.windowMs / 1000} s talk window; then quiet again, ` +
      `a ${r.windows.quietMs / 1000} s quiet window (media and the VAD on a quiet line). `
    : `No AI turns (\`--no-turns\`): the callers stay quiet, the receptionist listens; each step new calls (the bench hangs up the last step's: a caller silent for a minute is reprompted, then hung up), ${r.windows.warmMs / 1000} s of warm-up and one ${r.windows.windowMs / 1000} s window, ` +
      'shown in both the quiet and the talk columns. Only the driver, media, loop, pacing and memory goals apply. '
  const workers = r.serverWorkers ?? 1
  return [
    `<!-- ${name}:begin -->`,
    r.turns
      ? workers > 1 ? `## Load: AI calls on ${workers} worker processes (server.workers: ${workers}), server-side figures (issue 18)` : '## Load: AI calls on one server process, server-side figures (issue 18)'
      : '## Load without turns: media and the VAD alone, server-side figures (issue 18)',
    '',
    `\`${command}\` (${date} UTC, ${r.durationSeconds} s). Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}; ` +
      `${!r.machine.pinned ? 'not pinned' : workers > 1 ? `driver, media generator and fakes pinned to CPU 0, the server's primary (which takes no calls) to CPU 1, its ${workers} workers on either CPU; CPU is every server process's threads, loop delay the worst process's, "main" the busiest worker's event loop (\`main PID\` each), memory summed` : onePinned(r.machine.serverPinned)}. ` +
      `Load average at start ${r.loadAverageAtStart.join(', ')}, at end ${r.loadAverageAtEnd.join(', ')}.` +
      (r.serverNodeArgs !== undefined ? ` The server runs Node with ${r.serverNodeArgs.length > 0 ? `\`${r.serverNodeArgs.join(' ')}\`` : 'no extra flags'} (production's bin/phone-agent.service gives it \`--initial-old-space-size=128 --max-semi-space-size=8\`).` : ''),
    '',
    how +
      `Columns are the talk window unless marked quiet. The idle server used ${r.idleServerCpu} of a core, taken out of the CPU per call. See docs/benchmarks.md for what each column is.`,
    '',
    table,
    '',
    ...(r.stoppedBecause !== undefined ? [`Stopped early: ${r.stoppedBecause}.`, ''] : []),
    ...(r.serverWarnings.length > 0 ? [`Server warnings and errors (count): ${r.serverWarnings.map(([m, n]) => `${m} ${n}`).join('; ')}.`, ''] : []),
    'Goals:',
    '',
    ...goalLines(r),
    `<!-- ${name}:end -->`,
  ].join('\n')
}

/** Whether the held-frame threads ran at realtime priority (media.stream.realtimeSend; the bench runs as root, or not). */
function realtimeNote (steps: readonly LoadStep[]): string {
  const counts = steps.map((s) => s.talk.heldRealtime).filter((n): n is number => Number.isFinite(n))
  if (counts.length === 0) return ''
  const most = Math.max(...counts)
  return most > 0
    ? ` The thread ran at realtime priority (\`media.stream.realtimeSend\`, granted: ${most} server process${most === 1 ? '' : 'es'}).`
    : ' The thread ran at normal priority (`media.stream.realtimeSend` refused: not root, no CAP_SYS_NICE or RLIMIT_RTPRIO).'
}

/** The speed probe's figures (bench/speed-probe.ts), when the run had them. */
function speedLine (steps: readonly LoadStep[]): string {
  const probed = steps.filter((s) => s.talk.cpuSpeedUs !== undefined)
  if (probed.length === 0) return ''
  return ` How fast the cores ran (bench/native/speed-probe.c: the same fixed work on each CPU every 100 ms, the median thread CPU time it took, µs by CPU; larger is slower): ${probed.map((s) => `${(s.talk.cpuSpeedUs ?? []).join(' / ')} at ${s.calls}`).join(', ')}.`
}
