import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stallCause, stallSummary, type GcEvent, type Stall } from '../../bench/stall-cause.ts'

const stall = (over: Partial<Stall>): Stall => ({ at: 10_000, ms: 100, mainCpuMs: 10, mainWaitMs: 80, others: {}, othersMs: 100, ...over })

t.test('a stall is put down to a GC in it, else the helper threads, else the main thread, else other processes', async (t) => {
  const fullGc: GcEvent[] = [{ at: 9_990, ms: 4, kind: 8 }, { at: 10_090, ms: 15, kind: 4 }]
  t.equal(stallCause(stall({ others: { node: 90 } }), fullGc), 'full GC', 'incremental marking started 10 ms before it, the mark-compact finished in it')
  t.equal(stallCause(stall({}), [{ at: 10_020, ms: 30, kind: 1 }]), 'scavenge')
  t.equal(stallCause(stall({}), [{ at: 9_000, ms: 30, kind: 4 }]), 'other processes', 'a GC long before it is not its cause')
  t.equal(stallCause(stall({ others: { node: 20, 'libuv-worker': 15 } }), []), 'helper threads', 'other threads of the server ran a third of it')
  t.equal(stallCause(stall({ mainCpuMs: 90, mainWaitMs: 2 }), []), 'main thread busy')
  t.equal(stallCause(stall({ mainCpuMs: 70, mainWaitMs: 25, others: { 'v8:ProfEvntProc': 40 } }), []), 'main thread busy', 'the CPU profiler\'s thread is not a helper')
  t.equal(stallCause(stall({ mainCpuMs: 20, mainWaitMs: 75 }), []), 'other processes', 'the main thread waited for a CPU nobody of ours held')
})

t.test('the summary reads every process\'s record: the primary\'s file and each worker\'s beside it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-stalls-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const path = join(dir, 'stalls.json')
  await writeFile(path, JSON.stringify({ stalls: [stall({ at: 1_000, ms: 50 })], gcs: [] }))
  // The worker's scavenge explains its own stall only: the primary's record has no GC.
  await writeFile(`${path}.4242`, JSON.stringify({ stalls: [stall({ at: 1_100, ms: 60 }), stall({ at: 1_500, ms: 45, mainCpuMs: 44 }), stall({ at: 1_600, ms: 10 })], gcs: [{ at: 1_110, ms: 20, kind: 1 }] }))
  await writeFile(join(dir, 'other.json'), JSON.stringify({ stalls: [stall({ at: 1_200, ms: 90 })] }))
  const [summary] = await stallSummary(path, [{ calls: 500, from: 900, to: 2_000 }], 40)
  t.same(summary, { calls: 500, causes: { 'other processes': { count: 1, longestMs: 50 }, scavenge: { count: 1, longestMs: 60 }, 'main thread busy': { count: 1, longestMs: 45 } } }, 'three stalls of 40 ms or more from two files; a file of another name is not read')
})
