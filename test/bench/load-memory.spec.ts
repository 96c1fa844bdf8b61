import t from 'tap'
import { goalLines, type LoadResult, type LoadStep } from '../../bench/load-report.ts'
import type { LoadMemoryStats } from '../../bench/load-protocol.ts'

const MB = 1024 * 1024
const window = { wallMs: 20_000, serverCpu: 0.3, mainThreadCpu: 0.2, otherThreads: {}, loopP99Ms: 5, loopMaxMs: 9, pacingP50Ms: 0.1, pacingP99Ms: 2, pacingMaxMs: 4, received: 1, expectedFrames: 1, generatorCpu: 0.05, generatorWakeP99Ms: 1, simulatorCpu: 0.01, fakesCpu: 0.05 }
const memory = (heapMb: number, rssMb: number): LoadMemoryStats => ({ rss: rssMb * MB, heapUsed: heapMb * MB * 0.6, external: heapMb * MB * 0.4, arrayBuffers: heapMb * MB * 0.4, activeCalls: 0, youngCommitted: 32 * MB, heapCommitted: 2 * heapMb * MB })
function step (calls: number, talk: LoadMemoryStats | undefined, quiet: LoadMemoryStats | undefined): LoadStep {
  return {
    calls, flowing: calls, streamingAtEnd: calls, endedSoFar: 0, quiet: window, talk: window, turns: calls * 2, cpuPerCallPct: 0.2, quietCpuPerCallPct: 0.1, cpuPerTurnMs: 10,
    mbPerCall: Number.NaN, heapMbPerCall: Number.NaN, driverCpu: 0.06, processingP50Ms: 1, processingP99Ms: 2, alignmentP50Ms: 0, alignmentP99Ms: 1,
    ...(talk !== undefined ? { memory: talk } : {}), ...(quiet !== undefined ? { quietMemory: quiet } : {}),
  }
}
const result = (steps: LoadStep[], turns = true): LoadResult => ({
  steps, idleServerCpu: 0.01, stoppedBecause: undefined, serverWarnings: [], machine: { cpus: 2, cpuModel: 'x', node: 'v20', pinned: true },
  loadAverageAtStart: [0.1], loadAverageAtEnd: [0.1], durationSeconds: 1, startedAt: '', windows: { quietMs: 5000, warmMs: 10_000, windowMs: 20_000 }, turns,
}) as unknown as LoadResult
const memoryLine = (r: LoadResult): string => goalLines(r).find((l) => l.includes('Memory ≤')) ?? ''

t.test('memory per call is the slope over the steps: what every call shares at the start does not count', async (t) => {
  // 60 MB of start-up in every step (as the idle server's first calls add), 0.15 MB a talking call, 0.09 quiet, RSS noisy.
  const line = memoryLine(result([step(100, memory(75, 200), memory(69, 200)), step(200, memory(90, 260), memory(78, 205)), step(300, memory(105, 250), memory(87, 240))]))
  t.match(line, /the slope over 100, 200, 300 calls/)
  t.match(line, /\(heapUsed \+ external\) 0\.150 MB per call/)
  t.match(line, /RSS 0\.250/)
  t.match(line, /the same calls quiet, heap and buffers 0\.090/)
  t.match(line, /\*\*missed\*\* by the heap and buffers/)
  t.match(memoryLine(result([step(100, memory(70, 200), undefined), step(200, memory(79, 900), undefined)], false)), /quiet calls: .* 0\.090 MB per call.*\*\*met\*\*/, 'without turns: the quiet calls, judged on the heap and buffers, not RSS')
})

t.test('one step gives no slope, and results from before keep their per-step figures', async (t) => {
  t.match(memoryLine(result([step(100, memory(75, 200), memory(69, 200))])), /not measured/)
  const old = { ...step(100, undefined, undefined), mbPerCall: 0.576, heapMbPerCall: 0.132 }
  t.match(memoryLine(result([old])), /at most 0\.576 MB of RSS after a GC \(the JavaScript heap and buffers: 0\.132 MB\): \*\*missed\*\*/)
})
