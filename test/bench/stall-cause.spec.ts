import t from 'tap'
import { stallCause, type GcEvent, type Stall } from '../../bench/stall-cause.ts'

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
