import t from 'tap'
import { formatRepeatSection, repeatRun, repeatSummary, type RepeatResult, type RepeatRun } from '../../bench/load-repeat-report.ts'
import type { LoadResult, LoadStep } from '../../bench/load-report.ts'

// bench/load-repeat.ts runs one step of the load bench again and again and says how many runs
// held the calls goal: every call streaming, pacing p99 <= 5 ms, loop delay p99 <= 20 ms.

const window = (loopP99Ms: number, pacingP99Ms: number) => ({ wallMs: 20_000, serverCpu: 0.9, mainThreadCpu: 0.4, loopWait: 0.15, otherThreads: {}, loopP99Ms, loopMaxMs: 40, pacingP50Ms: 0, pacingP99Ms, pacingMaxMs: 20, received: 1, expectedFrames: 1, generatorCpu: 0.14, generatorWakeP99Ms: 2, simulatorCpu: 0.01, fakesCpu: 0.1 })
function step (loopP99Ms: number, pacingP99Ms = 2, streamingAtEnd = 500): LoadStep {
  return {
    calls: 500, flowing: 500, streamingAtEnd, endedSoFar: 0, quiet: window(3, Number.NaN), talk: window(loopP99Ms, pacingP99Ms), turns: 1000, cpuPerCallPct: 0.17, quietCpuPerCallPct: 0.08, cpuPerTurnMs: 9,
    mbPerCall: Number.NaN, heapMbPerCall: Number.NaN, driverCpu: 0.15, processingP50Ms: -15, processingP99Ms: 40, alignmentP50Ms: 0, alignmentP99Ms: 1,
  }
}
const run = (s: LoadStep | undefined, at = '2026-12-04T15:40:00.000Z'): RepeatRun => ({ startedAt: at, loadAverageAtStart: 1.2, step: s, stoppedBecause: s === undefined ? 'only 300 of 500 calls streamed' : undefined })
const result = (runs: RepeatRun[]): RepeatResult => ({ calls: 500, workers: 2, turns: true, runs, machine: { cpus: 2, cpuModel: 'AMD EPYC', node: 'v20', pinned: true }, serverNodeArgs: ['--max-semi-space-size=8'], durationSeconds: 500 })

t.test('counts the runs that held: the loop, the pacing and every call streaming each decide', async (t) => {
  const r = result([run(step(12)), run(step(25)), run(step(8, 9.6)), run(step(10, 2, 497)), run(step(19.9))])
  const sum = repeatSummary(r)
  t.equal(sum.held, 2, 'only the 12 ms and the 19.9 ms runs held')
  t.equal(sum.measured, 5)
  t.same(sum.loopP99, { median: 12, min: 8, max: 25 })
  const section = formatRepeatSection(r, 'node --import tsx bench/load-repeat.ts --runs=5 --calls=500 --workers=2')
  t.match(section, /\*\*held in 2 of 5 runs\*\*/)
  t.match(section, /loop delay p99 median 12\.0 ms \(8\.0-25\.0\)/)
  t.match(section, /The driver \(generator and simulator\) used at most 0\.2 of a core in 5 of 5 runs \(at most 0\.150\)/)
  t.equal(section.match(/\*\*met\*\*/g)?.length, 2)
  t.equal(section.match(/\*\*missed\*\*/g)?.length, 3)
  t.match(section, /^<!-- load-repeat-workers:begin/)
  t.match(section, /<!-- load-repeat-workers:end -->$/)
  t.match(section, /2 worker processes \(server\.workers: 2\)/)
})

t.test('a run that measured no step is a miss, and said', async (t) => {
  const r = result([run(step(10)), run(undefined)])
  t.equal(repeatSummary(r).held, 1)
  const section = formatRepeatSection(r, 'cmd')
  t.match(section, /\*\*held in 1 of 2 runs\*\* \(1 measured no step\)/)
  t.match(section, /stopped: only 300 of 500 calls streamed/)
})

t.test('one process: its own section, and how it was pinned', async (t) => {
  const one = { ...result([run(step(10))]), workers: 1, machine: { cpus: 2, cpuModel: 'AMD EPYC', node: 'v20', pinned: true, serverPinned: 'event loop' as const } }
  const section = formatRepeatSection(one, 'cmd')
  t.match(section, /^<!-- load-repeat:begin/)
  t.match(section, /<!-- load-repeat:end -->$/)
  t.match(section, /on one server process/)
  t.match(section, /the server's event loop pinned to CPU 1, its other threads .* on either CPU/)
})

t.test('a pacing figure read back from JSON as null does not count as paced for calls with turns', async (t) => {
  const s = step(10)
  const fromJson = { ...s, talk: { ...s.talk, pacingP99Ms: null as unknown as number } }
  t.equal(repeatSummary(result([run(fromJson)])).held, 0)
})

t.test('a load run becomes a repeat run by its step of the asked N', async (t) => {
  const r = { steps: [step(10)], startedAt: '2026-12-04T15:00:00.000Z', loadAverageAtStart: [0.7, 1, 1], stoppedBecause: undefined } as unknown as LoadResult
  t.same(repeatRun(r, 500), { startedAt: '2026-12-04T15:00:00.000Z', loadAverageAtStart: 0.7, step: r.steps[0], stoppedBecause: undefined })
  t.equal(repeatRun(r, 400).step, undefined)
})

t.test('the speed probe: each run says how fast the cores ran, and the slowest CPU of the runs that held against those that missed', async (t) => {
  const probed = (loopP99Ms: number, cpuSpeedUs: number[]): LoadStep => {
    const s = step(loopP99Ms)
    return { ...s, talk: { ...s.talk, cpuSpeedUs, machineOtherCpu: 0.3 } }
  }
  const section = formatRepeatSection(result([run(probed(12, [250, 260])), run(probed(25, [250, 330])), run(probed(14, [240, 270]))]), 'cmd')
  t.match(section, /\| 250 \/ 330 \| \*\*missed\*\* \|/, 'the missed run\'s row has each CPU\'s median')
  t.match(section, /\| 0\.30 \| 250 \/ 260 \|/, 'and what else kept the machine busy')
  t.match(section, /The slower CPU took 260-270 µs in the runs that held, 330 µs in those that missed/)
  const one = { ...result([run(probed(12, [300, 250])), run(probed(25, [250, 290])), run(probed(14, [240, 255]))]), workers: 1, machine: { cpus: 2, cpuModel: 'AMD EPYC', node: 'v20', pinned: true, serverPinned: 'event loop' as const } }
  t.match(formatRepeatSection(one, 'cmd'), /The event loop's CPU \(CPU 1\) took 250-255 µs in the runs that held, 290 µs in those that missed/, 'one process pinned: the CPU its loop runs on')
  const allHeld = formatRepeatSection(result([run(probed(12, [250, 260])), run(probed(14, [240, 270]))]), 'cmd')
  t.match(allHeld, /The slower CPU took 260-270 µs over the runs, every one of which held\./)
  const older = formatRepeatSection(result([run(step(12))]), 'cmd')
  t.notMatch(older, /Fixed work/, 'results from before the probe say nothing of it')
  t.match(older, /\| 9\.0 \| 0\.15 \| - \| - \| \*\*met\*\* \|/, 'and leave its cells empty')
})

t.test('a driver over 0.2 of a core is said beside the goal: that run did not show the server alone', async (t) => {
  const busy = { ...step(12), driverCpu: 0.217 }
  const sum = repeatSummary(result([run(step(12)), run(busy)]))
  t.equal(sum.driverWithin, 1)
  t.equal(sum.driverMax, 0.217)
  t.match(formatRepeatSection(result([run(step(12)), run(busy)]), 'cmd'), /in 1 of 2 runs \(at most 0\.217\)/)
})
