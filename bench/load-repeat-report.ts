/**
 * bench/load-repeat.ts's BENCHMARKS.md section: one step of the load bench run again and again,
 * each run with a fresh server, fakes and generator, and how often the calls goal held.
 *
 * Why a section of its own: at 500 calls on two cores the loop delay moves by a factor of two
 * or more between runs minutes apart for reasons outside our processes (docs/benchmarks.md, "The
 * 500-call event-loop goal: how often it holds"), so one run says little about the next. Here
 * the bench itself says how many runs of how many held, and the spread.
 */
import { cell, markdownTable } from './capacity-stats.ts'
import { GOALS, holdsCallGoal, onePinned, type LoadResult, type LoadStep } from './load-report.ts'
import { percentile } from './stats.ts'

/** One run of the repeated step: the step's figures and the state of the machine it ran on. */
export interface RepeatRun {
  readonly startedAt: string
  readonly loadAverageAtStart: number
  /** Undefined: the run measured no step (it stopped before, e.g. its calls did not stream). */
  readonly step: LoadStep | undefined
  /** Why the run stopped short, if it did. */
  readonly stoppedBecause: string | undefined
}

export interface RepeatResult {
  readonly calls: number
  readonly workers: number
  readonly turns: boolean
  readonly runs: readonly RepeatRun[]
  readonly machine: LoadResult['machine']
  readonly serverNodeArgs: readonly string[]
  readonly durationSeconds: number
}

/** The run as RepeatResult keeps it: the step of `calls`, if the run got that far. */
export function repeatRun (r: LoadResult, calls: number): RepeatRun {
  return {
    startedAt: r.startedAt,
    loadAverageAtStart: r.loadAverageAtStart[0] ?? Number.NaN,
    step: r.steps.find((s) => s.calls === calls),
    stoppedBecause: r.stoppedBecause,
  }
}

/** Runs that held the goal, and the spread of the loop delay over every run that measured. */
export function repeatSummary (r: RepeatResult): { held: number, measured: number, loopP99: { median: number, min: number, max: number }, pacingP99Median: number, driverWithin: number, driverMax: number } {
  const steps = r.runs.map((run) => run.step).filter((s): s is LoadStep => s !== undefined)
  const loops = steps.map((s) => s.talk.loopP99Ms)
  const pacing = steps.map((s) => s.talk.pacingP99Ms as number | null).filter((p): p is number => p !== null && Number.isFinite(p))
  return {
    held: steps.filter((s) => holdsCallGoal(s, r.turns)).length,
    measured: steps.length,
    loopP99: { median: percentile(loops, 50), min: Math.min(...loops), max: Math.max(...loops) },
    pacingP99Median: percentile(pacing, 50),
    // The goal is shown only with a driver that is not the bottleneck: counted apart, said beside it.
    driverWithin: steps.filter((s) => s.driverCpu <= GOALS.driverCpu).length,
    driverMax: Math.max(...steps.map((s) => s.driverCpu)),
  }
}

/** BENCHMARKS.md's section: one per arrangement, as bench/load.ts keeps `load` and `load-workers`. */
export function repeatSectionName (workers: number): string {
  return workers > 1 ? 'load-repeat-workers' : 'load-repeat'
}

export function formatRepeatSection (r: RepeatResult, command: string): string {
  const sum = repeatSummary(r)
  const rows = r.runs.map((run, i) => {
    const s = run.step
    const time = run.startedAt.slice(11, 16)
    if (s === undefined) return [String(i + 1), time, cell(run.loadAverageAtStart, 2), `stopped: ${run.stoppedBecause ?? 'no step measured'}`, '-', '-', '-', '-', '-', '-', '-', '-', '**missed**']
    return [
      String(i + 1), time, cell(run.loadAverageAtStart, 2),
      `${s.streamingAtEnd} / ${s.calls}`,
      `${cell(s.talk.loopP99Ms, 1)} / ${cell(s.talk.loopMaxMs, 1)}`,
      s.talk.loopWait === undefined ? '-' : cell(s.talk.loopWait * 100, 1),
      `${cell(s.talk.pacingP99Ms, 2)} / ${cell(s.talk.pacingMaxMs, 1)}`,
      `${s.quiet.serverCpu} / ${s.talk.serverCpu}`,
      cell(s.cpuPerTurnMs, 1),
      String(s.driverCpu),
      s.talk.machineOtherCpu === undefined ? '-' : cell(s.talk.machineOtherCpu, 2),
      s.talk.cpuSpeedUs === undefined ? '-' : s.talk.cpuSpeedUs.join(' / '),
      holdsCallGoal(s, r.turns) ? '**met**' : '**missed**',
    ]
  })
  const where = r.workers > 1 ? `${r.workers} worker processes (server.workers: ${r.workers})` : 'one server process'
  const pinning = r.machine.pinned
    ? (r.workers > 1 ? 'driver, media generator and fakes pinned to CPU 0, the server\'s primary (which takes no calls) to CPU 1, its workers on either CPU' : onePinned(r.machine.serverPinned))
    : 'nothing pinned'
  const name = repeatSectionName(r.workers)
  return [
    `<!-- ${name}:begin (written by bench/load-repeat.ts) -->`,
    `## Load, one step again and again: ${r.calls} AI calls on ${where} (issue 18)`,
    '',
    `\`${command}\` (${r.runs[0]?.startedAt.slice(0, 16).replace('T', ' ') ?? '-'} UTC, ${r.durationSeconds} s). Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}; ${pinning}. ` +
      `The server runs Node with \`${r.serverNodeArgs.join(' ')}\`. Each run is bench/load.ts's step of ${r.calls} calls with a fresh server, fakes and generator ` +
      '(ramp, 45 s of warm-up, a 20 s talk window, a 5 s quiet window; see the `load` sections), one after the other with nothing else of ours running.',
    '',
    markdownTable(['run', 'start (UTC)', 'load average', 'streaming at end', 'loop delay p99 / max ms', 'loop waiting for a CPU %', 'pacing p99 / max ms', 'server CPU quiet / talk', 'CPU per turn ms', 'driver CPU', 'machine busy besides us', 'fixed work µs by CPU', `≥ ${GOALS.calls} calls goal`], rows),
    '',
    `- **The calls goal** (every call streaming, pacing p99 ≤ ${GOALS.pacingP99Ms} ms, loop delay p99 ≤ ${GOALS.loopP99Ms} ms in every server process): ` +
      `**held in ${sum.held} of ${r.runs.length} runs**${sum.measured < r.runs.length ? ` (${r.runs.length - sum.measured} measured no step)` : ''}; ` +
      `loop delay p99 median ${cell(sum.loopP99.median, 1)} ms (${cell(sum.loopP99.min, 1)}-${cell(sum.loopP99.max, 1)}), pacing p99 median ${cell(sum.pacingP99Median, 2)} ms. ` +
      `The driver (generator and simulator) used at most ${GOALS.driverCpu} of a core in ${sum.driverWithin} of ${sum.measured} runs (at most ${cell(sum.driverMax, 3)}).`,
    ...speedNote(r),
    '- "Loop waiting for a CPU" is the most any one event loop\'s thread was runnable but off a CPU in the talk window (/proc/PID/task/TID/schedstat): loop delay that no code of that loop caused.',
    `<!-- ${name}:end -->`,
  ].join('\n')
}

/**
 * What the speed probe says of the runs that missed against those that held: for one process
 * pinned, its event loop's CPU (pinApart: CPU 1), where its work is done; for workers, which the
 * scheduler places on either CPU, the slower CPU. As ranges, so that a clean split shows.
 */
function speedNote (r: RepeatResult): string[] {
  const loopCpu = r.workers === 1 && r.machine.pinned && r.machine.serverPinned === 'event loop' ? 1 : undefined
  const speed = (s: LoadStep): number | undefined => {
    const byCpu = s.talk.cpuSpeedUs
    if (byCpu === undefined || byCpu.length === 0) return undefined
    return loopCpu !== undefined ? byCpu[loopCpu] : Math.max(...byCpu)
  }
  const steps = r.runs.map((run) => run.step).filter((s): s is LoadStep => s !== undefined && speed(s) !== undefined)
  if (steps.length === 0) return []
  const range = (list: readonly LoadStep[]): string => {
    const us = list.map((s) => speed(s) as number)
    return Math.min(...us) === Math.max(...us) ? `${Math.min(...us)} µs` : `${Math.min(...us)}-${Math.max(...us)} µs`
  }
  const held = steps.filter((s) => holdsCallGoal(s, r.turns))
  const missed = steps.filter((s) => !holdsCallGoal(s, r.turns))
  const which = loopCpu !== undefined ? `The event loop's CPU (CPU ${loopCpu})` : 'The slower CPU'
  return [
    '- "Fixed work" is how fast the machine\'s cores ran over the talk window, apart from anything of ours: bench/native/speed-probe.c runs the same work on each CPU every 100 ms (a thread pinned to it; 0.2 % of a CPU) and this is the median thread CPU time it took, µs: larger is a slower machine (a VM\'s neighbours, a busy sibling hyperthread, the caches). ' +
      (held.length > 0 && missed.length > 0
        ? `${which} took ${range(held)} in the runs that held, ${range(missed)} in those that missed. `
        : `${which} took ${range(steps)} over the runs, every one of which ${missed.length === 0 ? 'held' : 'missed'}. `) +
      '"Machine busy besides us" is /proc/stat\'s busy time less our processes\' (other processes, the kernel\'s threads), cores.',
  ]
}
