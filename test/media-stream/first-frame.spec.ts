import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { decodeFrame } from '../../lib/media/stream/frame.ts'
import { OutboundQueue } from '../../lib/media/stream/outbound.ts'
import { fakeSwitch } from './fake-switch.ts'

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

async function fakeEndpoint (t: Test, leadFrames = 1, options: { fsStarted?: boolean } = {}) {
  const fs = await fakeSwitch()
  const { logger, clock, scheduler, received } = fs
  const ep = await MediaEndpoint.open({ rate: 8000, logger, scheduler, leadFrames, peer: fs.peer })
  t.teardown(async () => { await ep.close(); fs.close() })
  const fsStarts = async (): Promise<void> => { await fs.started(ep) }
  if (options.fsStarted !== false) await fsStarts()
  /** [sentAt, first sample] of every frame handed to the socket. */
  const sent: Array<[number, number]> = []
  ep.onSent((frame, at) => { sent.push([at, frame.readInt16LE(0)]) })
  return { clock, scheduler, ep, received, sent, fsStarts }
}

/** Lets the endpoint's microtask (the send from enqueue) run; no clock moves. */
const settle = async (): Promise<void> => { await sleep(0) }

t.test('endpoint idle: one frame of silence per tick, just in time, nothing sent ahead', async (t) => {
  const { clock, ep, sent } = await fakeEndpoint(t, 2)
  const grid = clock.now()
  clock.advance(100)
  t.same(sent.map(([at]) => at - grid), [0, 20, 40, 60, 80, 100], 'one per grid tick: the lead is not primed while idle')
  t.ok(sent.every(([, v]) => v === 0))
  t.match(ep.stats, { sent: 6, silenceSent: 6 })
})

t.test('endpoint: a reply queued between ticks goes out at once, anchored there, 20 ms apart, no burst', async (t) => {
  const { clock, ep, scheduler, sent, received } = await fakeEndpoint(t, 1)
  const grid = clock.now()
  clock.advance(40) // ticks at grid, +20, +40: silence just in time
  clock.advance(7)
  const queuedAt = clock.now()
  const told: number[] = []
  // Five frames of audio, each frame's first sample its number (1..5).
  const audio = new Int16Array(800)
  for (let f = 0; f < 5; f++) audio.fill(f + 1, f * 160, (f + 1) * 160)
  ep.enqueue(audio, (at) => told.push(at))
  await settle()
  t.same(told, [queuedAt], 'the first frame was handed to the socket at enqueue time, not the next tick')
  t.same(sent.slice(3), [[queuedAt, 1], [queuedAt, 2]], 'frame 0 and the one frame of lead, at once')
  t.equal(scheduler.lanes, 1, 'the call paces on its own lane')
  clock.advance(13) // the shared grid's tick at +60: this call sends nothing on it
  t.equal(sent.length, 5, 'no frame on the shared tick: no burst')
  clock.advance(200)
  const audioFrames = sent.filter(([, v]) => v !== 0)
  t.same(audioFrames.map(([at, v]) => [at - queuedAt, v]), [[0, 1], [0, 2], [20, 3], [40, 4], [60, 5]],
    'frame k + lead at anchor + 20k ms: drift-free from the enqueue, not from the grid')
  const after = sent.slice(8).map(([at]) => at - queuedAt)
  t.equal(after[0], 100, 'slot +80 is covered by the frame sent ahead; silence just in time at +100')
  t.same(after.slice(1).map((x) => (x - 13) % 20), after.slice(1).map(() => 0), 'then back on the shared grid (+113, +133, ...)')
  t.equal(scheduler.lanes, 0, 'lane closed once idle')
  t.equal(told.length, 1, 'told once')
  const deadline = Date.now() + 2000
  while (!received.some((b) => b.readInt16LE(0) === 5) && Date.now() < deadline) await sleep(5)
  t.ok(received.some((b) => b.readInt16LE(0) === 5), 'and the frames did go out')
})

t.test('endpoint: pause silences the next lane slot, resume carries on on the same anchor', async (t) => {
  const { clock, ep, sent } = await fakeEndpoint(t, 1)
  clock.advance(10) // half a frame off the shared grid: no slot served early by its wake-ups
  const anchor = clock.now()
  ep.enqueue(new Int16Array(160 * 10).fill(9))
  await settle()
  clock.advance(20)
  ep.pause()
  clock.advance(40)
  ep.resume()
  await settle()
  clock.advance(20)
  const mine = sent.filter(([at]) => at >= anchor).map(([at, v]) => [at - anchor, v])
  t.same(mine, [[0, 9], [0, 9], [20, 9], [40, 0], [60, 0], [80, 9]], 'paused within one frame, resumed at the next slot of the same lane')
  t.equal(ep.queuedMs, 160 * 10 / 8 - 4 * 20)
})

t.test('endpoint: a reply queued while the frames sent ahead play out fills their slots at once', async (t) => {
  const { clock, ep, sent } = await fakeEndpoint(t, 2)
  clock.advance(10)
  const anchor = clock.now()
  ep.enqueue(new Int16Array(160).fill(4)) // one frame: + 2 frames of lead (silence pad)
  await settle()
  clock.advance(20) // slot 1: nothing queued, the lead covers it
  clock.advance(5)
  const told: number[] = []
  ep.enqueue(new Int16Array(160).fill(6), (at) => told.push(at))
  await settle()
  t.same(told, [anchor + 25], 'sent at once')
  const mine = sent.filter(([at]) => at >= anchor).map(([at, v]) => [at - anchor, v])
  t.same(mine, [[0, 4], [0, 0], [0, 0], [25, 6]], 'the one skipped slot is filled: the lead is back to two frames')
  clock.advance(35) // slots +40 and +60: the two frames ahead play out
  t.same(sent.at(-1), [anchor + 25, 6], 'nothing sent ahead of them')
  clock.advance(20)
  t.same(sent.at(-1), [anchor + 80, 0], 'silence just in time at +80: the lane kept its anchor')
})

t.test('endpoint: audio queued while the socket connects goes out when it is connected', async (t) => {
  const fs = await fakeSwitch()
  const { logger, clock, scheduler } = fs
  const ep = await MediaEndpoint.open({ rate: 8000, logger, scheduler, leadFrames: 0 })
  t.teardown(async () => { await ep.close(); fs.close() })
  const told: number[] = []
  ep.enqueue(new Int16Array(160).fill(1), (at) => told.push(at))
  await settle()
  t.same(told, [], 'FreeSWITCH unknown: nothing can go')
  await fs.send(Buffer.alloc(320, 0xff), ep.localAddress.port)
  const deadline = Date.now() + 2000
  while (told.length === 0 && Date.now() < deadline) await sleep(5)
  t.same(told, [clock.now()], 'sent once the peer was known and connected, without a tick')
})

t.test('endpoint: nothing is sent before FreeSWITCH\'s first datagram, even to a peer known up front', async (t) => {
  const { clock, ep, received, fsStarts } = await fakeEndpoint(t, 1, { fsStarted: false })
  const told: number[] = []
  ep.enqueue(new Int16Array(160).fill(3), (at) => told.push(at))
  clock.advance(100)
  await sleep(20)
  t.same([told, received.length, ep.stats.sent], [[], 0, 0],
    'switch_ivr_park launches the thread that plays our datagrams in the pass that sends its first frame: before, ours would queue there')
  await fsStarts()
  const deadline = Date.now() + 2000
  while (told.length === 0 && Date.now() < deadline) await sleep(2)
  t.same(told, [clock.now()], 'the queued reply went out when FreeSWITCH\'s first datagram came, without a tick')
})

t.test('endpoint: sent-frame listeners get the frame as samples too (no decode, no array per frame)', async (t) => {
  const { clock, ep } = await fakeEndpoint(t, 0)
  const seen: Array<{ bytes: number[], samples: number[], reused: boolean }> = []
  const arrays = new Set<Int16Array>()
  ep.onSent((frame, _at, samples) => {
    seen.push({ bytes: Array.from(decodeFrame(frame)), samples: Array.from(samples), reused: arrays.has(samples) })
    arrays.add(samples)
  })
  clock.advance(20) // idle: silence
  ep.enqueue(Int16Array.from({ length: 160 * 12 }, (_, i) => (i % 300) - 150))
  await settle()
  // Frame by frame, letting the sends' callbacks run between (they free the send slots), as a
  // real pacer does; moved 220 ms in one go, every slot would still be in flight and the ring
  // would grow (stats.sendBuffersGrown), which it did here before this loop.
  for (let i = 0; i < 11; i++) {
    clock.advance(20)
    await sleep(1)
  }
  t.equal(ep.stats.sendBuffersGrown, 0, 'no send buffer added')
  t.ok(seen.length >= 12, `${seen.length} frames`)
  t.ok(seen.every((s) => s.samples.length === 160 && s.samples.every((v, i) => v === s.bytes[i])), 'the samples are the frame sent')
  t.ok(seen.some((s) => s.samples.some((v) => v !== 0)) && seen.some((s) => s.samples.every((v) => v === 0)), 'audio and silence frames')
  t.ok(arrays.size <= 5, `the arrays are the call's send slots and one silence array, reused (${arrays.size} for ${seen.length} frames)`)
})
