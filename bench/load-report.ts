/**
 * bench/load.ts's figures and their BENCHMARKS.md section: a table by N and, for each of
 * issue 18's goals, met or missed with the measured figure.
 */
import { cell, markdownTable, round } from './capacity-stats.ts'
import { FAKE_LATENCY, replyText } from './load-fakes.ts'
import type { LoadMark } from './load-protocol.ts'
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
  /** |interval between two of the server's datagrams to one call - 20 ms| (kernel receive timestamps). */
  readonly pacingP50Ms: number
  readonly pacingP99Ms: number
  readonly pacingMaxMs: number
  readonly received: number
  readonly expectedFrames: number
  readonly generatorCpu: number
  readonly generatorWakeP99Ms: number
  /** This process: the simulator's Event Socket side. */
  readonly simulatorCpu: number
  readonly fakesCpu: number
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
  readonly driverCpu: number
}

export interface LoadResult {
  readonly steps: readonly LoadStep[]
  /** The server's CPU with no call (its timers, the metrics): taken out of the per-call figures. */
  readonly idleServerCpu: number
  readonly stoppedBecause: string | undefined
  /** The server's warnings and errors by message, most frequent first. */
  readonly serverWarnings: ReadonlyArray<readonly [string, number]>
  readonly machine: { readonly cpus: number, readonly cpuModel: string, readonly node: string, readonly pinned: boolean }
  readonly loadAverageAtStart: readonly number[]
  readonly loadAverageAtEnd: readonly number[]
  readonly durationSeconds: number
  readonly windows: { readonly quietMs: number, readonly warmMs: number, readonly windowMs: number }
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

const GOALS = {
  calls: 500, pacingP99Ms: 5, loopP99Ms: 20, driverCpu: 0.2, mediaPerCallPct: 0.1, turnCpuMs: 10, processingP50Ms: 5, alignmentP50Ms: 20, alignmentP99Ms: 40, mbPerCall: 0.1,
} as const

function verdict (ok: boolean | undefined): string {
  return ok === undefined ? 'not measured' : ok ? '**met**' : '**missed**'
}

/** Least-squares slope of y over x: the marginal cost of one more call, fixed costs left out. */
export function slope (points: ReadonlyArray<readonly [number, number]>): number {
  if (points.length < 2) return Number.NaN
  const mx = points.reduce((a, [x]) => a + x, 0) / points.length
  const my = points.reduce((a, [, y]) => a + y, 0) / points.length
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  return sxx === 0 ? Number.NaN : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx
}

export function goalLines (r: LoadResult): string[] {
  const steps = r.steps
  const passing = steps.filter((s) => s.streamingAtEnd === s.calls && s.talk.pacingP99Ms <= GOALS.pacingP99Ms && s.talk.loopP99Ms <= GOALS.loopP99Ms)
  const largest = passing.at(-1)
  const first = steps.find((s) => !passing.includes(s))
  const worst = (f: (s: LoadStep) => number): number => Math.max(...steps.map(f).filter(Number.isFinite))
  const median = (f: (s: LoadStep) => number): number => percentile(steps.map(f).filter(Number.isFinite), 50)
  const any = steps.length > 0
  const marginal = slope(steps.map((s) => [s.calls, s.quiet.serverCpu] as const)) * 100
  return [
    `- **≥ ${GOALS.calls} calls** with pacing p99 ≤ ${GOALS.pacingP99Ms} ms and loop delay p99 ≤ ${GOALS.loopP99Ms} ms: ${verdict(any ? (largest?.calls ?? 0) >= GOALS.calls : undefined)}; ` +
      `largest step that held: ${largest?.calls ?? 'none'}${first !== undefined ? `; ${first.calls} calls: ${first.flowing}/${first.calls} streaming, pacing p99 ${cell(first.talk.pacingP99Ms, 1)} ms, loop p99 ${cell(first.talk.loopP99Ms, 1)} ms` : ''}.`,
    `- **Driver ≤ ${GOALS.driverCpu} of a core** (generator + simulator): ${verdict(any ? worst((s) => s.driverCpu) <= GOALS.driverCpu : undefined)}; at most ${cell(worst((s) => s.driverCpu), 3)}.`,
    `- **Media + VAD ≤ ${GOALS.mediaPerCallPct} % of a core per call**: quiet line ${cell(median((s) => s.quietCpuPerCallPct), 3)} % (median over N; ` +
      `marginal, the slope of the quiet server CPU over N: ${cell(marginal, 3)} %), with callers talking and turns ${cell(median((s) => s.cpuPerCallPct), 3)} %: ` +
      `${verdict(Number.isFinite(marginal) ? marginal <= GOALS.mediaPerCallPct : any ? median((s) => s.quietCpuPerCallPct) <= GOALS.mediaPerCallPct : undefined)} for the quiet line; the talking figure includes the turns.`,
    `- **CPU per AI turn ≤ ${GOALS.turnCpuMs} ms** (fakes excluded, the VAD on the caller's speech included): median ${cell(median((s) => s.cpuPerTurnMs), 1)} ms: ${verdict(any ? median((s) => s.cpuPerTurnMs) <= GOALS.turnCpuMs : undefined)}.`,
    `- **Processing ≤ ${GOALS.processingP50Ms} ms p50**: at the smallest N ${cell(steps[0]?.processingP50Ms, 1)} ms: ${verdict(steps[0] === undefined ? undefined : steps[0].processingP50Ms <= GOALS.processingP50Ms)}. ` +
      `**Media alignment ≤ ${GOALS.alignmentP50Ms} ms p50, ≤ ${GOALS.alignmentP99Ms} ms p99**: ${cell(steps[0]?.alignmentP50Ms, 1)} / ${cell(steps[0]?.alignmentP99Ms, 1)} ms: ` +
      `${verdict(steps[0] === undefined ? undefined : steps[0].alignmentP50Ms <= GOALS.alignmentP50Ms && steps[0].alignmentP99Ms <= GOALS.alignmentP99Ms)}.`,
    `- **Memory ≤ ${GOALS.mbPerCall} MB per call**: at most ${cell(worst((s) => s.mbPerCall), 3)} MB (RSS after a GC, over the idle server): ${verdict(any ? worst((s) => s.mbPerCall) <= GOALS.mbPerCall : undefined)}.`,
  ]
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
    cell(s.mbPerCall, 3),
    `${s.driverCpu} (gen ${s.talk.generatorCpu}, wake p99 ${cell(s.talk.generatorWakeP99Ms, 2)} ms)`,
    cell(s.talk.fakesCpu, 2),
  ])
  const table = markdownTable([
    'calls', 'streaming start / end', 'server CPU quiet / talk (cores)', 'talk CPU by thread', 'CPU per call % quiet / talk', 'turns', 'CPU per turn ms',
    'loop delay p99 / max ms', 'pacing p99 / max ms', 'processing p50 / p99 ms', 'alignment p50 / p99 ms', 'MB per call', 'driver CPU', 'fakes CPU',
  ], rows)
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ')
  return [
    '<!-- load:begin -->',
    '## Load: AI calls on one server process, server-side figures (issue 18)',
    '',
    `\`${command}\` (${date} UTC, ${r.durationSeconds} s). Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}; ` +
      `${r.machine.pinned ? 'server pinned to CPU 1, driver, media generator and fakes to CPU 0' : 'not pinned'}. ` +
      `Load average at start ${r.loadAverageAtStart.join(', ')}, at end ${r.loadAverageAtEnd.join(', ')}.`,
    '',
    `Each step: the calls ramp with the callers quiet, then the callers talk 37 % of every 10 s ` +
      `(one AI turn per call every 10 s through the receptionist's converse): ${r.windows.warmMs / 1000} s of warm-up, a ${r.windows.windowMs / 1000} s talk window; then quiet again, ` +
      `a ${r.windows.quietMs / 1000} s quiet window (media and the VAD on a quiet line). ` +
      `Columns are the talk window unless marked quiet. The idle server used ${r.idleServerCpu} of a core, taken out of the CPU per call. See docs/benchmarks.md for what each column is.`,
    '',
    table,
    '',
    ...(r.stoppedBecause !== undefined ? [`Stopped early: ${r.stoppedBecause}.`, ''] : []),
    ...(r.serverWarnings.length > 0 ? [`Server warnings and errors (count): ${r.serverWarnings.map(([m, n]) => `${m} ${n}`).join('; ')}.`, ''] : []),
    'Goals:',
    '',
    ...goalLines(r),
    '<!-- load:end -->',
  ].join('\n')
}


