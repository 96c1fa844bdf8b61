import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { EchoRatios } from '../../lib/media/echo-ratios.ts'

/**
 * The echo guard's hottest loop (EchoRatios.bound: every band and delay it looks at, every 5 ms
 * block while we talk) allocates nothing once V8 has optimised it. It once boxed two doubles per
 * delay (its `cap` field, declared bare, was typed as anything by V8, which made the floor it
 * merges with a tagged value): ~2.7 KB of garbage per talking frame and call, which a sampling
 * heap profile of the load server showed under bound() (docs/benchmarks.md, ninth session).
 *
 * The optimisation is forced (V8's natives syntax, parsed in a Function after the flag is set),
 * so nothing here depends on timing; young-generation growth across calls is the measure, a
 * stretch with a scavenge in it (the space shrank) is measured again.
 *
 * Run by echo-alloc.spec.ts in a process of its own: in a test runner that ran other specs first
 * (calls whose echo guards optimised and deoptimised bound() with their own feedback), the forced
 * optimisation measured boxed code (894 and 5,102 bytes a call) though the code is unchanged.
 * Prints one JSON line: bytes per call by mode.
 */

setFlagsFromString('--allow-natives-syntax')
// eslint-disable-next-line no-new-func, @typescript-eslint/no-implied-eval
const prepare = new Function('f', '%PrepareFunctionForOptimization(f)') as (f: unknown) => void
// eslint-disable-next-line no-new-func, @typescript-eslint/no-implied-eval
const optimiseNext = new Function('f', '%OptimizeFunctionOnNextCall(f)') as (f: unknown) => void

const LAGS = 80
const STRIDE = LAGS + 13

function ratios (): EchoRatios {
  // What we sent around each delay, and the caller's band powers: all loud enough to count.
  const hi = Float64Array.from({ length: 4 * STRIDE }, (_, i) => 1e-3 * (1 + (i % 7)))
  const lo = Float64Array.from({ length: 4 * STRIDE }, (_, i) => 1e-4 * (1 + (i % 5)))
  const sustained = lo.map((v) => v / 2)
  return new EchoRatios({ lags: LAGS, stride: STRIDE, hi, lo, sustained, bounds: new Float64Array(4), cap: 0.25, spread: 100 })
}

const newSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_used_size ?? 0

/** Bytes allocated per call of `run`, the least over a few stretches without a scavenge. */
function bytesPerCall (run: () => void, calls = 1000): number {
  let least = Number.POSITIVE_INFINITY
  for (let attempt = 0; attempt < 8; attempt++) {
    const before = newSpace()
    for (let n = 0; n < calls; n++) run()
    const after = newSpace()
    if (after >= before) least = Math.min(least, (after - before) / calls)
  }
  return least
}

const result: Record<string, number> = {}
for (const mode of ['echo known (the delays around it)', 'learning (every delay)'] as const) {
  const r = ratios()
  const e = Float64Array.from({ length: 24 }, (_, i) => 1e-5 * (1 + i))
  const d = mode.startsWith('echo') ? 20 : -1
  let j = 0
  const call = (): void => {
    r.bound(e, 4, j, 3 - j, d, false, d < 0)
    j = (j + 1) & 3
  }
  const bound = Object.getPrototypeOf(r).bound as unknown
  prepare(bound)
  // Past a window of the floors' statistics (128 updates a cell), so the branch that starts a
  // new window, where the floor meets `cap`, has run before V8 compiles.
  for (let n = 0; n < 600; n++) call()
  optimiseNext(bound)
  call()
  result[mode] = bytesPerCall(call)
}
process.stdout.write(`${JSON.stringify(result)}\n`)
