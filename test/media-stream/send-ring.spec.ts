import t from 'tap'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { SendRing } from '../../lib/media/stream/send-ring.ts'
import { until } from '../helpers/until.ts'

t.test('slots sent without a callback come round again once the socket\'s queue is empty', async (t) => {
  let empty = true
  let asked = 0
  const ring = new SendRing(320, 2, () => {}, () => { asked++; return empty })
  const a = ring.take()
  ring.sentWithoutCallback(a)
  const b = ring.take()
  ring.sentWithoutCallback(b)
  t.not(a.bytes, b.bytes)
  t.equal(ring.held, 2)
  t.equal(asked, 0, 'the queue is not asked while a slot is free')
  const c = ring.take()
  t.equal(asked, 1, 'asked once the ring ran out')
  t.ok(c.bytes === a.bytes || c.bytes === b.bytes, 'a held slot was reused')
  t.equal(ring.held, 0)
  t.equal(ring.grown, 0)
  // Still in the socket's queue: a new slot instead of overwriting one.
  ring.sentWithoutCallback(c)
  ring.sentWithoutCallback(ring.take())
  empty = false
  const d = ring.take()
  t.ok(d.bytes !== a.bytes && d.bytes !== b.bytes, 'nothing reused while the queue holds datagrams')
  t.equal(ring.grown, 1)
})

t.test('a slot waiting for its callback stays busy when the queue drains', async (t) => {
  let calls = 0
  const ring = new SendRing(320, 2, () => { calls++ }, () => true)
  const a = ring.take()
  const done = ring.sending(a)
  const b = ring.take()
  ring.sentWithoutCallback(b)
  const next = ring.take()
  t.equal(next.bytes, b.bytes, 'the held slot is free, the one in flight is not')
  t.equal(ring.grown, 0)
  ring.sentWithoutCallback(next)
  t.not(ring.take().bytes, a.bytes, 'still not before its callback')
  done(null)
  t.equal(calls, 1)
})

t.test('on a real socket: frames sent without a callback arrive intact, in order', async (t) => {
  const rx = dgram.createSocket('udp4')
  const got: number[] = []
  rx.on('message', (msg) => { got.push(msg.readInt16LE(0)) })
  rx.bind(0, '127.0.0.1')
  await once(rx, 'listening')
  const tx = dgram.createSocket('udp4')
  tx.bind(0, '127.0.0.1')
  await once(tx, 'listening')
  await new Promise<void>((resolve) => { tx.connect(rx.address().port, '127.0.0.1', () => { resolve() }) })
  const ring = new SendRing(320, 4, () => {}, () => tx.getSendQueueCount() === 0)
  const n = 200
  // Bursts of 10 frames in one task, more than the ring holds.
  for (let burst = 0; burst < n / 10; burst++) {
    for (let i = 0; i < 10; i++) {
      const slot = ring.take()
      slot.samples.fill(burst * 10 + i)
      tx.send(slot.bytes)
      ring.sentWithoutCallback(slot)
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  await until(() => got.length >= n)
  t.same(got, Array.from({ length: n }, (_, i) => i), 'every frame carried its own value')
  tx.close()
  rx.close()
})
