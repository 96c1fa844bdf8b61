import t from 'tap'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { SpeedProbe, speedOf } from '../../bench/speed-probe.ts'
import { noCompiler } from './media-gen-harness.ts'

// bench/native/speed-probe.c: the same fixed work on each CPU every 100 ms, and the thread CPU
// time it took; the load bench reads each window's median to tell a slower machine from our code.

t.test('medians and p90 by nearest rank', async (t) => {
  t.same(speedOf(1, [300, 100, 200, 400, 1000]), { cpu: 1, samples: 5, medianUs: 300, p90Us: 1000 })
  t.same(speedOf(0, [250]), { cpu: 0, samples: 1, medianUs: 250, p90Us: 250 })
})

t.test('the probe runs on each CPU asked, and a window sees only its own samples', { skip: noCompiler }, async (t) => {
  const probe = await SpeedProbe.start(1)
  t.ok(probe, 'built and started')
  if (probe === undefined) return
  t.teardown(async () => { await probe.close() })
  const before = performance.now()
  await sleep(450)
  const mid = performance.now()
  await sleep(450)
  const all = probe.between(before, performance.now())
  t.equal(all.length, 1, 'one CPU asked, one CPU measured')
  t.equal(all[0]?.cpu, 0)
  t.ok((all[0]?.samples ?? 0) >= 4, `sampled every 100 ms (${all[0]?.samples} in 0.9 s)`)
  t.ok((all[0]?.medianUs ?? 0) > 0, `the work took time (${all[0]?.medianUs} µs)`)
  const firstHalf = probe.between(before, mid)[0]?.samples ?? 0
  t.ok(firstHalf < (all[0]?.samples ?? 0), 'a shorter window holds fewer samples')
  t.same(probe.between(mid + 10_000, mid + 20_000), [], 'a window with no samples has no figures')
})

t.test('closing stops the program', { skip: noCompiler }, async (t) => {
  const probe = await SpeedProbe.start(1)
  t.ok(probe, 'built and started')
  if (probe === undefined) return
  const pid = probe.pid
  await probe.close()
  t.throws(() => process.kill(pid, 0), 'the process is gone')
})
