import t from 'tap'
import { goalLines, type LoadResult, type LoadStep } from '../../bench/load-report.ts'

// The load bench's verdicts on cost per call and per turn are taken at the goals' N (500 calls),
// or the largest N short of saturation; the smallest N's figure is said beside it.

const window = (loopP99Ms: number) => ({ wallMs: 20_000, serverCpu: 0.3, mainThreadCpu: 0.2, otherThreads: {}, loopP99Ms, loopMaxMs: 9, pacingP50Ms: 0.1, pacingP99Ms: 2, pacingMaxMs: 4, received: 1, expectedFrames: 1, generatorCpu: 0.05, generatorWakeP99Ms: 1, simulatorCpu: 0.01, fakesCpu: 0.05 })
function step (calls: number, quietPct: number, turnMs: number, quietLoopP99Ms = 5): LoadStep {
  return {
    calls, flowing: calls, streamingAtEnd: calls, endedSoFar: 0, quiet: window(quietLoopP99Ms), talk: window(5), turns: calls * 2, cpuPerCallPct: 0.2, quietCpuPerCallPct: quietPct, cpuPerTurnMs: turnMs,
    mbPerCall: Number.NaN, heapMbPerCall: Number.NaN, driverCpu: 0.06, processingP50Ms: 1, processingP99Ms: 2, alignmentP50Ms: 0, alignmentP99Ms: 1,
  }
}
const result = (steps: LoadStep[]): LoadResult => ({
  steps, idleServerCpu: 0.01, stoppedBecause: undefined, serverWarnings: [], machine: { cpus: 2, cpuModel: 'x', node: 'v20', pinned: true },
  loadAverageAtStart: [0.1], loadAverageAtEnd: [0.1], durationSeconds: 1, startedAt: '', windows: { quietMs: 5000, warmMs: 10_000, windowMs: 20_000 }, turns: true,
}) as unknown as LoadResult
const line = (r: LoadResult, what: string): string => goalLines(r).find((l) => l.includes(what)) ?? ''

t.test('judged at 500 calls, the smallest N said beside it', async (t) => {
  const r = result([step(100, 0.16, 27), step(300, 0.12, 13), step(500, 0.085, 9.5)])
  t.match(line(r, 'Media + VAD'), /quiet line 0\.085 % at 500 calls \(at 100 calls 0\.160\)/)
  t.match(line(r, 'Media + VAD'), /\*\*met\*\*/)
  t.match(line(r, 'CPU per AI turn'), /at 500 calls 9\.5 ms \(at 100 calls 27\.0\)/)
  t.match(line(r, 'CPU per AI turn'), /\*\*met\*\*/)
})

t.test('a saturated 500 is not judged: the largest N short of it is, and can miss', async (t) => {
  const r = result([step(100, 0.16, 27), step(300, 0.12, 13), step(500, 0.05, 4, 400)])
  t.match(line(r, 'Media + VAD'), /quiet line 0\.120 % at 300 calls/)
  t.match(line(r, 'Media + VAD'), /\*\*missed\*\*/)
  t.match(line(r, 'CPU per AI turn'), /at 300 calls 13\.0 ms/)
  t.match(line(r, 'CPU per AI turn'), /\*\*missed\*\*/)
})

t.test('one step: judged there, nothing said beside it', async (t) => {
  const r = result([step(100, 0.09, 8)])
  t.match(line(r, 'Media + VAD'), /quiet line 0\.090 % at 100 calls \(marginal/)
})

t.test('the held frames line says whether their thread ran at realtime priority', async (t) => {
  const held = (realtime: number | undefined): LoadStep => {
    const s = step(500, 0.085, 9.5)
    return { ...s, talk: { ...s.talk, heldFrames: 1000, heldLate: 3, ...(realtime !== undefined ? { heldRealtime: realtime } : {}) } }
  }
  t.match(line(result([held(2)]), 'Held frames'), /3 of 1000 at 500\. The thread ran at realtime priority \(`media\.stream\.realtimeSend`, granted: 2 server processes\)\./)
  t.match(line(result([held(0)]), 'Held frames'), /The thread ran at normal priority \(`media\.stream\.realtimeSend` refused/)
  t.match(line(result([held(undefined)]), 'Held frames'), /3 of 1000 at 500\.$/, 'an older result: nothing said')
})

t.test('the rest of the machine is said per step when measured, and not at all in older results', async (t) => {
  const measured = step(500, 0.085, 9.5)
  const withMachine: LoadStep = { ...measured, talk: { ...measured.talk, machineOtherCpu: 0.123, stealCpu: 0.04 } }
  t.match(line(result([withMachine]), 'rest of the machine'), /0\.12 \/ 0\.04 at 500/)
  t.equal(line(result([measured]), 'rest of the machine'), '', 'older results: no line')
})

t.test('the machine\'s CPU from /proc/stat: busy and stolen, the rest after our own', async (t) => {
  const { machineTimes, restOfMachine } = await import('../../bench/proc-threads.ts')
  const a = await machineTimes()
  t.ok(a.busyMs > 0 && a.stealMs >= 0, `busy ${a.busyMs} ms, stolen ${a.stealMs} ms since boot`)
  t.same(restOfMachine({ busyMs: 1000, stealMs: 0 }, { busyMs: 3000, stealMs: 500 }, 1000, 1.5), { machineOtherCpu: 0.5, stealCpu: 0.5 })
  t.same(restOfMachine({ busyMs: 1000, stealMs: 0 }, { busyMs: 1500, stealMs: 0 }, 1000, 1), { machineOtherCpu: 0, stealCpu: 0 }, 'never below zero (our processes\' ticks and the machine\'s are read apart)')
})

t.test('event loops waiting for a CPU: said per step when measured, not in older results', async (t) => {
  const measured = step(500, 0.085, 9.5)
  const withWait: LoadStep = { ...measured, talk: { ...measured.talk, loopWait: 0.137 } }
  t.match(line(result([withWait]), 'waiting for a CPU'), /13\.7 % at 500/)
  t.equal(line(result([measured]), 'waiting for a CPU'), '', 'older results: no line')
})

t.test('the worst event loop\'s wait for a CPU, from schedstat: each process\'s main thread, not its helpers', async (t) => {
  const { loopWaitShare, threadTimes } = await import('../../bench/proc-threads.ts')
  const at = (main: number, worker: number, helper: number) => new Map([
    [100, { name: 'node', cpuMs: 0, waitMs: main }], [101, { name: 'node', cpuMs: 0, waitMs: helper }], [200, { name: 'main 200', cpuMs: 0, waitMs: worker }],
  ])
  t.equal(loopWaitShare(at(0, 0, 0), at(50, 120, 900), 100, 1000), 0.12, 'the worker\'s loop waited 120 ms of 1000; a helper\'s 900 ms do not count')
  t.equal(loopWaitShare(at(0, 0, 0), at(30, 10, 0), 100, 1000), 0.03, 'the primary\'s own loop counts too')
  const mine = (await threadTimes(process.pid)).get(process.pid)
  t.ok(mine !== undefined && Number.isFinite(mine.waitMs) && mine.waitMs >= 0, `this process's main thread read (${mine?.waitMs} ms waiting so far)`)
})

t.test('without turns there is no reply to pace: the 500-call line judges the loop alone, and says so', async (t) => {
  const quiet = (pacing: number): LoadStep => { const s = step(500, 0.05, Number.NaN); return { ...s, talk: { ...s.talk, pacingP99Ms: pacing } } }
  const noTurns = (s: LoadStep): LoadResult => ({ ...result([s]), turns: false })
  t.match(line(noTurns(quiet(Number.NaN)), '≥ 500 calls'), /the loop alone\): \*\*met\*\*; largest step that held: 500/)
  t.match(line(noTurns(quiet(9)), '≥ 500 calls'), /\*\*missed\*\*/, 'a pacing figure, when there is one, still counts')
  t.match(line(result([quiet(Number.NaN)]), '≥ 500 calls'), /\*\*missed\*\*/, 'with turns, no pacing figure is no pass')
})
