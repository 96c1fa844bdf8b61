import t from 'tap'
import { freeswitchLocalPort, shareFreeswitchPorts } from '../../lib/call/stream/freeswitch-port.ts'
import { workerSlotEnv, workerSlotFromEnv } from '../../lib/cluster/slot.ts'

// FreeSWITCH's `local-port` for a call's unicast (lib/call/stream/freeswitch-port.ts). A port
// handed to a call is held until the call lets it go: told the same port, FreeSWITCH fails to bind
// it for one of two calls and that call never streams (a 500-call ramp of the load bench lost one).

t.test('from a range: two calls never share a port, a full range says so, a released port is free again', async (t) => {
  const range = { min: 40000, max: 40001 }
  const a = await freeswitchLocalPort('127.0.0.2', range)
  const b = await freeswitchLocalPort('127.0.0.2', range)
  t.not(a.port, b.port, 'the second call gets the other port')
  t.same([a.port, b.port].sort(), [40000, 40001])
  await t.rejects(freeswitchLocalPort('127.0.0.2', range), /media\.stream\.freeswitchPorts \(40000-40001\) is held by a call/, 'a third call is told plainly')
  a.release()
  a.release() // idempotent
  const c = await freeswitchLocalPort('127.0.0.2', range)
  t.equal(c.port, a.port, 'the released port is handed out again')
  b.release()
  c.release()
})

t.test('another FreeSWITCH address holds its own ports', async (t) => {
  const range = { min: 40010, max: 40010 }
  const a = await freeswitchLocalPort('127.0.0.3', range)
  const b = await freeswitchLocalPort('127.0.0.4', range)
  t.equal(a.port, 40010)
  t.equal(b.port, 40010)
  a.release()
  b.release()
})

t.test('from the kernel: ports held by calls are distinct, and free ones', async (t) => {
  const held = []
  for (let i = 0; i < 100; i++) held.push(await freeswitchLocalPort('127.0.0.1', undefined))
  const ports = held.map((h) => h.port)
  t.equal(new Set(ports).size, ports.length, 'no two calls are told the same port')
  t.ok(ports.every((p) => p > 0 && p < 65536))
  for (const h of held) h.release()
})

t.test('with server.workers each worker takes only its share: two never tell FreeSWITCH the same port', async (t) => {
  t.teardown(() => { shareFreeswitchPorts(0, 1) })
  const range = { min: 40020, max: 40025 }
  const byWorker: number[][] = []
  for (const slot of [0, 1]) {
    shareFreeswitchPorts(slot, 2)
    const held = [await freeswitchLocalPort('127.0.0.5', range), await freeswitchLocalPort('127.0.0.5', range), await freeswitchLocalPort('127.0.0.5', range)]
    byWorker.push(held.map((h) => h.port).sort())
    await t.rejects(freeswitchLocalPort('127.0.0.5', range), new RegExp(`40020-40025\\) this worker may use \\(worker ${slot + 1} of 2: one port in 2\\) is held`), 'its share used up, it says so')
    for (const h of held) h.release()
  }
  t.same(byWorker, [[40020, 40022, 40024], [40021, 40023, 40025]], 'every second port each, no overlap')
  shareFreeswitchPorts(2, 3)
  const fromKernel = []
  for (let i = 0; i < 20; i++) fromKernel.push(await freeswitchLocalPort('127.0.0.1', undefined))
  t.ok(fromKernel.every((h) => h.port % 3 === 2), 'from the kernel too: only ports of its share')
  for (const h of fromKernel) h.release()
  t.throws(() => { shareFreeswitchPorts(2, 2) }, RangeError)
})

t.test('a worker learns its slot from the primary; garbage is no slot', async (t) => {
  t.same(workerSlotFromEnv({ ...workerSlotEnv(1, 4) }), { slot: 1, slots: 4 })
  t.equal(workerSlotFromEnv({}), undefined)
  for (const bad of ['4/4', '1', 'a/b', '-1/2', '1/0', '1/2\n']) t.equal(workerSlotFromEnv({ PHONE_AGENT_WORKER_SLOT: bad }), undefined, bad)
})
