import t from 'tap'
import type { Logger } from 'pino'
import { MediaEndpoint, HOLD_AHEAD_MS } from '../../lib/media/stream/endpoint.ts'
import { OutboundQueue } from '../../lib/media/stream/outbound.ts'
import { FrameScheduler, type TickSubscriber } from '../../lib/media/stream/scheduler.ts'
import type { DatagramSocket, SendDone } from '../../lib/media/stream/datagram-socket.ts'
import type { AddressPort } from '../../lib/media/stream/endpoint-options.ts'
import type { UdpMux } from '../../lib/media/stream/udp-mux.ts'
import { captureLogs } from '../helpers/logs.ts'
import { FakeClock } from './fake-clock.ts'

// A reply's frames served ahead and held by the socket until due (the shared media socket's C
// helper, held-send.c): the scheduler's lanes with aheadMs, the pacer's due times, and the
// endpoint taking held frames back on a pause or a clear without losing or repeating audio.

t.test('scheduler: a lane served ahead gets each slot that early, with its due time, and skips nothing at its start', async (t) => {
  for (const ahead of [20, 40]) {
    const clock = new FakeClock()
    const scheduler = new FrameScheduler({ clock, timers: clock, coalesceMs: 0 })
    const ticks: Array<[number, number, number]> = []
    const anchor = clock.now()
    const subscriber: TickSubscriber = { onTick (frames, now, dueAt) { ticks.push([frames, now - anchor, dueAt - anchor]) } }
    const close = scheduler.addLane(subscriber, anchor, ahead)
    clock.advance(100)
    close()
    const served = ticks.reduce((n, [frames]) => n + frames, 0)
    t.equal(scheduler.stats.laneSkippedFrames, 0, `ahead ${ahead}: nothing skipped`)
    t.equal(served, Math.floor((100 + ahead) / 20), `ahead ${ahead}: every slot due by now + ${ahead} ms served`)
    for (const [, now, dueAt] of ticks) t.ok(dueAt - now <= ahead && dueAt - now >= 0, `ahead ${ahead}: slot due at ${dueAt} served at ${now}`)
  }
})

t.test('scheduler: a stall longer than the lead and the catch-up bound still skips slots', async (t) => {
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock, coalesceMs: 0 })
  const anchor = clock.now()
  const frames: number[] = []
  const close = scheduler.addLane({ onTick (n) { frames.push(n) } }, anchor, 20)
  clock.advance(20)
  clock.stall(200)
  clock.advance(1)
  close()
  t.ok(scheduler.stats.laneSkippedFrames > 0, 'slots skipped after the stall')
  t.ok(frames.every((n) => n <= 3), 'no burst beyond the catch-up bound plus the slot served ahead')
})

t.test('outbound: unsend puts the last frames back while they came from the item still playing', async (t) => {
  const q = new OutboundQueue(8000)
  const ramp = Int16Array.from({ length: 800 }, (_, i) => i + 1)
  q.enqueue(ramp)
  q.nextFrame(0)
  q.nextFrame(20)
  q.nextFrame(40)
  t.ok(q.unsend(2), 'two frames of the same item, after its first')
  t.equal(q.nextFrame(60).readInt16LE(0), 161, 'the audio goes on from the second frame')
  t.ok(q.unsend(1))
  t.ok(q.unsend(0), 'nothing to put back')
  t.equal(q.nextFrame(80).readInt16LE(0), 161)

  const fresh = new OutboundQueue(8000)
  fresh.enqueue(ramp)
  fresh.nextFrame(0)
  t.notOk(fresh.unsend(1), 'not the item\'s first frame: its start was already told')
  t.equal(fresh.nextFrame(20).readInt16LE(0), 161)

  const two = new OutboundQueue(8000)
  two.enqueue(new Int16Array(250).fill(1))
  two.enqueue(new Int16Array(400).fill(2))
  two.nextFrame(0)
  two.nextFrame(20) // samples 160-249 of the first item and 70 of the second: the first has settled
  t.notOk(two.unsend(1), 'not across items')
  t.notOk(two.unsend(5), 'not more frames than it remembers')
  two.nextFrame(40)
  two.nextFrame(60)
  t.ok(two.unsend(2), 'two frames of the second item')
})

/** A socket that holds frames the way the shared socket's helper does, on the test's clock. */
class HoldingSocket implements DatagramSocket {
  readonly local: AddressPort = { address: '127.0.0.1', port: 40000 }
  readonly holds = true
  readonly copiesOnSend = true
  /** Every frame handed over: a copy, when it leaves, and whether it was taken back. */
  readonly frames: Array<{ samples: Int16Array, due: number, hold: number, cancelled: boolean }> = []
  onMessage: ((msg: Buffer, from: AddressPort, ageMs?: number) => void) | undefined
  constructor (readonly clock: FakeClock) {}
  listen (onMessage: (msg: Buffer, from: AddressPort, ageMs?: number) => void): void { this.onMessage = onMessage }
  send (frame: Buffer, _done?: SendDone, holdMs = 0): void {
    const copy = Buffer.from(frame)
    this.frames.push({ samples: new Int16Array(copy.buffer, copy.byteOffset, copy.length / 2), due: this.clock.now() + holdMs, hold: holdMs, cancelled: false })
  }

  sendTo (_frame: Buffer, _peer: AddressPort, done: SendDone): void { done(null) }
  cancelHeld (): number {
    let n = 0
    for (const f of this.frames) if (!f.cancelled && f.due > this.clock.now()) { f.cancelled = true; n++ }
    return n
  }

  async connect (): Promise<boolean> { return true }
  async retarget (): Promise<'connected'> { return 'connected' }
  sendQueueEmpty (): boolean { return true }
  async close (): Promise<void> {}
}

/** `packetBytes`: FreeSWITCH's first datagram, the call's packet (480: ptime 30). */
async function holdingEndpoint (clock: FakeClock, logger: Logger, packetBytes = 320): Promise<{ ep: MediaEndpoint, socket: HoldingSocket }> {
  const scheduler = new FrameScheduler({ clock, timers: clock })
  const socket = new HoldingSocket(clock)
  const peer = { address: '127.0.0.1', port: 41000 }
  const mux = { link: () => socket } as unknown as UdpMux
  const ep = await MediaEndpoint.open({ rate: 8000, logger, scheduler, leadFrames: 1, writeTimer: 'timerfd', peer, mux })
  // FreeSWITCH's first datagram: from now on what we send is played.
  socket.onMessage?.(Buffer.alloc(packetBytes, 0xff), peer, 0)
  await new Promise((resolve) => setImmediate(resolve))
  return { ep, socket }
}

const settle = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

/** Pauses 45 ms at each of `atMs` (from `from` on the clock), then resumes. */
async function pauseAndResume (ep: MediaEndpoint, clock: FakeClock, from: number, atMs: number[]): Promise<void> {
  for (const at of atMs) {
    clock.advance(at - (clock.now() - from))
    ep.pause()
    clock.advance(45)
    ep.resume()
    await settle()
  }
}

/** The non-zero samples of what left and was not taken back, in order. */
function heardSamples (socket: HoldingSocket): number[] {
  const heard: number[] = []
  for (const f of socket.frames) if (!f.cancelled) for (const s of f.samples) if (s !== 0) heard.push(s)
  return heard
}

t.test('endpoint: a reply\'s frames go to a holding socket ahead, each stamped when it is due', async (t) => {
  const clock = new FakeClock()
  const { logger } = captureLogs()
  const { ep, socket } = await holdingEndpoint(clock, logger)
  t.teardown(() => ep.close())
  const stamps: number[] = []
  ep.onSent((_frame, at) => { stamps.push(at) })
  const start = clock.now()
  ep.enqueue(Int16Array.from({ length: 160 * 10 }, (_, i) => (i % 160) + 1))
  await settle()
  clock.advance(200)
  const audio = socket.frames.filter((f) => f.samples[0] !== 0)
  t.equal(audio.length, 10, 'every frame of the reply')
  t.equal(audio[0]?.hold, 0, 'its first frame at once')
  t.ok(audio.slice(2).every((f) => f.hold > 0 && f.hold <= HOLD_AHEAD_MS), 'the lane\'s frames held, never longer than the lead')
  t.ok(audio.slice(-5).every((f) => f.hold >= HOLD_AHEAD_MS - 3), `once under way, each handed over about ${HOLD_AHEAD_MS} ms ahead`)
  const dues = audio.map((f) => f.due - start)
  t.same(dues.slice(1), [0, 20, 40, 60, 80, 100, 120, 140, 160], 'the lead at once, then one every 20 ms from the first, exactly')
  t.same(stamps.filter((s, i) => socket.frames[i]?.samples[0] !== 0).map((s) => s - start), dues.map((d) => d), 'listeners (the echo guard) see when each leaves')
})

t.test('endpoint: a pause takes back what the socket holds; resumed, the reply plays on with no sample lost or repeated', async (t) => {
  const clock = new FakeClock()
  const { logger } = captureLogs()
  const { ep, socket } = await holdingEndpoint(clock, logger)
  t.teardown(() => ep.close())
  const reply = Int16Array.from({ length: 160 * 30 }, (_, i) => i + 1)
  ep.enqueue(reply)
  await settle()
  await pauseAndResume(ep, clock, 1000, [87, 131, 205]) // from the fake clock's start
  clock.advance(800)
  t.ok(ep.stats.heldTakenBack >= 3, `held frames taken back at each pause (${ep.stats.heldTakenBack})`)
  const heard = heardSamples(socket)
  t.equal(heard.length, reply.length, 'every sample once')
  t.ok(heard.every((s, i) => s === i + 1), 'in order')
  const dues = socket.frames.filter((f) => !f.cancelled).map((f) => f.due)
  t.ok(dues.every((d, i) => i === 0 || d >= (dues[i - 1] as number)), 'nothing leaves before a frame sent earlier')
})

t.test('endpoint: a clear takes back what the socket holds, and the dropped reply counts only what left', async (t) => {
  const clock = new FakeClock()
  const { logger } = captureLogs()
  const { ep, socket } = await holdingEndpoint(clock, logger)
  t.teardown(() => ep.close())
  const playout = ep.enqueue(new Int16Array(160 * 20).fill(7))
  await settle()
  clock.advance(95)
  const clearedAt = clock.now()
  ep.clear()
  const result = await playout.done
  const left = socket.frames.filter((f) => !f.cancelled && f.samples[0] === 7).length
  t.ok(socket.frames.some((f) => f.cancelled), 'a held frame was taken back')
  t.equal(result.status, 'cleared')
  t.equal(result.sentSamples, left * 160, 'sent = the frames that actually leave')
  const sentBefore = socket.frames.length
  clock.advance(100)
  t.ok(socket.frames.filter((f) => !f.cancelled && f.samples[0] === 7).every((f) => f.due <= clearedAt), 'no audio of the reply leaves after the clear')
  t.ok(socket.frames.slice(sentBefore).every((f) => f.samples[0] === 0), 'only silence, if anything, after it')
})

t.test('endpoint, ptime 30: the packets of a reply are held until their first sample is due, 30 ms apart', async (t) => {
  const clock = new FakeClock()
  const { logger } = captureLogs()
  const { ep, socket } = await holdingEndpoint(clock, logger, 480)
  t.teardown(() => ep.close())
  const start = clock.now()
  ep.enqueue(Int16Array.from({ length: 240 * 20 }, (_, i) => i + 1))
  await settle()
  clock.advance(800)
  const audio = socket.frames.filter((f) => f.samples.some((s) => s !== 0))
  t.ok(audio.every((f) => f.samples.length === 240), 'every datagram a whole 30 ms packet')
  t.equal(audio.length, 20, 'the reply in 20 packets')
  t.ok(audio.slice(3).every((f) => f.hold > 0), 'once under way, each handed over ahead and held')
  const dues = audio.map((f) => f.due - start)
  // The lead frame goes with the first (both due at once): the second packet, which starts
  // half-way into it, is due 10 ms in; from the third on, one every 30 ms.
  t.same(dues.slice(2).map((d, i) => d - (dues[i + 1] as number)), new Array(18).fill(30), 'one packet every 30 ms')
  const heard = audio.flatMap((f) => [...f.samples])
  t.ok(heard.every((s, i) => s === i + 1), 'every sample once, in order')
})

t.test('endpoint, ptime 30: a pause takes back the held packets and their frames; resumed, nothing is lost', async (t) => {
  const clock = new FakeClock()
  const { logger } = captureLogs()
  const { ep, socket } = await holdingEndpoint(clock, logger, 480)
  t.teardown(() => ep.close())
  const reply = Int16Array.from({ length: 160 * 40 }, (_, i) => i + 1)
  ep.enqueue(reply)
  await settle()
  await pauseAndResume(ep, clock, clock.now(), [97, 151, 262])
  clock.advance(1200)
  t.ok(ep.stats.heldTakenBack >= 3, `held packets taken back at each pause (${ep.stats.heldTakenBack})`)
  const heard = heardSamples(socket)
  // A frame that began in a packet already played goes back whole: up to 10 ms heard twice.
  let next = 1
  let repeated = 0
  for (const s of heard) {
    if (s === next) next++
    else if (s < next) repeated++
    else break
  }
  t.equal(next, reply.length + 1, 'every sample heard, in order')
  t.ok(repeated <= 3 * 80, `at most 10 ms repeated a pause (${repeated} samples)`)
  const dues = socket.frames.filter((f) => !f.cancelled).map((f) => f.due)
  t.ok(dues.every((d, i) => i === 0 || d >= (dues[i - 1] as number)), 'nothing leaves before a packet sent earlier')
})
