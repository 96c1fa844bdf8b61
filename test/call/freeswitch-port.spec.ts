import t from 'tap'
import { freeswitchLocalPort } from '../../lib/call/stream/freeswitch-port.ts'

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
