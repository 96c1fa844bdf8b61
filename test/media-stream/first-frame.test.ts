import t from 'tap'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { OutboundQueue } from '../../lib/media/stream/outbound.ts'
import { FrameScheduler } from '../../lib/media/stream/scheduler.ts'
import { captureLogs } from '../helpers/logs.ts'
import { FakeClock } from './fake-clock.ts'

/**
 * The "first frame" of queued audio is the frame that carries its first sample, told when that
 * frame is handed to the socket: the waterfall's firstFrameAt. Queued earlier (the audio is
 * in hand) is not sent: the difference is the wait for the frame clock.
 */

t.test('outbound: an item is told at the frame carrying its first sample, once, when that frame is sent', async (t) => {
  const q = new OutboundQueue(8000)
  const told: Array<[string, number]> = []
  q.enqueue(new Int16Array(200).fill(1), (at) => told.push(['a', at])) // frames 0 and 1 (40 samples)
  q.enqueue(new Int16Array(100).fill(2), (at) => told.push(['b', at])) // starts at sample 40 of frame 1
  q.enqueue(new Int16Array(160).fill(3), (at) => told.push(['c', at])) // starts at sample 140 of frame 1
  q.enqueue(new Int16Array(10).fill(4), (at) => told.push(['d', at])) // frame 2
  q.nextFrame(100)
  t.same(told, [], 'building a frame tells nobody: it has not left yet')
  q.sent(100)
  t.same(told, [['a', 100]])
  q.nextFrame(120)
  q.sent(120)
  t.same(told, [['a', 100], ['b', 120], ['c', 120]], 'two items starting inside frame 1, by frame arithmetic')
  q.nextFrame(140)
  q.sent(140)
  q.sent(160)
  t.same(told.map(([id, at]) => `${id}@${at}`), ['a@100', 'b@120', 'c@120', 'd@140'], 'each told once')
})

t.test('outbound: a cleared item that never started is never told', async (t) => {
  const q = new OutboundQueue(8000)
  let told = 0
  q.enqueue(new Int16Array(160), () => { told++ })
  q.clear()
  q.nextFrame(0)
  q.sent(0)
  t.equal(told, 0)
})

t.test('endpoint: audio queued between ticks is told at the tick that sends it, not when queued', async (t) => {
  const { logger } = captureLogs()
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock })
  const fs = dgram.createSocket('udp4')
  const received: Buffer[] = []
  fs.on('message', (m) => { received.push(m) })
  fs.bind(0, '127.0.0.1')
  await once(fs, 'listening')
  const ep = await MediaEndpoint.open({ rate: 8000, logger, scheduler, leadFrames: 1, peer: { address: '127.0.0.1', port: fs.address().port } })
  t.teardown(async () => { await ep.close(); fs.close() })
  const grid = clock.now()
  clock.advance(40) // ticks at grid, +20, +40: silence
  clock.advance(7)
  const queuedAt = clock.now()
  const sentAt: number[] = []
  ep.enqueue(new Int16Array(320).fill(1000), (at) => sentAt.push(at))
  t.same(sentAt, [], 'queued is not sent')
  clock.advance(13)
  t.same(sentAt, [grid + 60], 'the next tick on the shared grid sent it')
  t.equal(sentAt[0]! - queuedAt, 13, 'the wait for the frame clock, which the waterfall now shows')
  clock.advance(20)
  t.equal(sentAt.length, 1, 'told once')
  const deadline = Date.now() + 2000
  while (received.length < 6 && Date.now() < deadline) await sleep(5)
  t.ok(received.some((b) => b.readInt16LE(0) === 1000), 'and the frame did go out')
})
