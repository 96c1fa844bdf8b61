import t from 'tap'
import { CallPacer } from '../../lib/media/stream/call-pacer.ts'
import { OutboundQueue } from '../../lib/media/stream/outbound.ts'
import { QuietIdle } from '../../lib/media/stream/quiet-idle.ts'
import { FrameScheduler } from '../../lib/media/stream/scheduler.ts'
import { WriteClock } from '../../lib/media/stream/write-clock.ts'
import { CallerEar } from '../../lib/simulator/ear.ts'
import { FakeClock } from './fake-clock.ts'
import { timerfdWithStalls } from '../simulator/timerfd-model.ts'

/**
 * A stall of FreeSWITCH leaves a lag that a frame per tick never drains (switch_ivr.c
 * unicast_thread_run writes one datagram per write tick; switch_time.c _timerfd_next takes every
 * expiry due at once): measured on a real FreeSWITCH 1.11 (docs/benchmarks.md, "On a real
 * FreeSWITCH"), modelled by CallerEar.stall. The pacer's free ticks (call-pacer.ts) drain it.
 * Driven on a fake clock: the switch's ticks fall at BASE + 20k, the caller's frames reach us
 * 0.3 ms after them (none while the switch is stopped, when `visible`), and each of our frames
 * goes both to the simulator (the matrix timer, the stricter) and to a model of Linux's timerfd
 * timer with the same stalls (the real switch's default), as test/simulator/write-timer.spec.ts
 * checks them against each other. With `timerfd: true` the pacer runs as the endpoint runs it
 * when told the switch writes on timerfd (no write clock, no warm window) and the simulator
 * writes on timerfd too.
 */

const BASE = 1003.4
/** Where the switch stops (ms on the call timeline). */
const STALL_AT = 1500

interface Sent { readonly at: number, readonly value: number, readonly simulated: number, readonly linux: number }

interface Rig {
  readonly clock: FakeClock
  readonly queue: OutboundQueue
  readonly pacer: CallPacer
  readonly ear: CallerEar
  readonly sent: Sent[]
}

/**
 * `stallMs`: the switch stops at STALL_AT for that long; `visible`: its frames to us stop too (a
 * stopped process, as with SIGSTOP), else only the unicast thread stalls. `warmMs`: QuietIdle's
 * window (the caller's line is quiet: it goes cold after it).
 */
function rig (options: { stallMs?: number, visible?: boolean, warmMs?: number, timerfd?: boolean } = {}): Rig {
  // `timerfd`: the agent told the switch writes on timerfd (endpoint.ts writeTimer): no write
  // clock, no warm window, and the simulator on timerfd too.
  const { stallMs = 0, visible = true, timerfd = false, warmMs = timerfd ? 0 : Number.POSITIVE_INFINITY } = options
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock })
  const queue = new OutboundQueue(8000)
  const writeClock = timerfd ? undefined : new WriteClock()
  const quiet = new QuietIdle(clock.now(), warmMs)
  const ear = new CallerEar(timerfd ? 'timerfd' : 'matrix')
  const stalls: Array<[number, number]> = []
  if (stallMs > 0) {
    ear.stall(STALL_AT, stallMs)
    stalls.push([STALL_AT, STALL_AT + stallMs])
  }
  const linux = timerfdWithStalls(stalls)
  const sent: Sent[] = []
  const pacer = new CallPacer({
    scheduler,
    queue,
    lead: 1,
    writeClock,
    canSend: () => !queue.empty || quiet.wanted(clock.now()),
    send: (now) => {
      const idle = queue.idle
      const frame = queue.nextFrame(now)
      queue.sent(now)
      quiet.sent(now, !idle)
      const value = frame.readInt16LE(0)
      const simulated = ear.queueUnicast(new Int16Array(160).fill(value), now - BASE).writtenMs
      sent.push({ at: now - BASE, value, simulated, linux: linux(now - BASE) })
    },
  })
  const line = new Int16Array(160).fill(-20)
  for (let k = 1; k < 1000; k++) {
    const at = 20 * k + 0.3
    if (visible && at >= STALL_AT && at < STALL_AT + stallMs) continue
    clock.set(() => {
      writeClock?.observe(clock.now())
      quiet.heard(line, clock.now())
    }, BASE + at - clock.now())
  }
  t.teardown(() => { pacer.close() })
  return { clock, queue, pacer, ear, sent }
}

/** Call-timeline now. */
const now = (r: Rig): number => r.clock.now() - BASE

/**
 * A 100 ms reply queued at `at` (7 ms into a tick: written at once when the tick is free) and
 * played out: how late its first frame was written after it was ready, in the simulator and on
 * timerfd.
 */
async function reply (r: Rig, at: number, value = 5): Promise<{ simulated: number, linux: number }> {
  r.clock.advance(at - now(r))
  const from = r.sent.length
  r.queue.enqueue(new Int16Array(800).fill(value))
  r.pacer.kick()
  await Promise.resolve()
  r.clock.advance(200)
  const first = r.sent.slice(from).find((s) => s.value === value)
  if (first === undefined) return { simulated: Number.NaN, linux: Number.NaN }
  return { simulated: first.simulated - at, linux: first.linux - at }
}

/** A 2 s reply queued at `at`, cleared `stopAfter` ms later (a barge-in); then `settle` ms pass. Its frames, and when it was cleared. */
async function bargeIn (r: Rig, at: number, stopAfter: number, settle: number): Promise<{ stopAt: number, spoken: Sent[] }> {
  r.clock.advance(at - now(r))
  r.queue.enqueue(new Int16Array(16000).fill(9))
  r.pacer.kick()
  await Promise.resolve()
  r.clock.advance(stopAfter)
  const stopAt = now(r)
  r.queue.clear()
  r.clock.advance(settle)
  return { stopAt, spoken: r.sent.filter((s) => s.value === 9) }
}

t.test('a stall during warm idle: its lag drains; every reply a second after it is on time, not late by the stall', async (t) => {
  for (const stallMs of [30, 50, 90, 358]) {
    for (const visible of [true, false]) {
      const r = rig({ stallMs, visible })
      const late: Array<{ simulated: number, linux: number }> = []
      // Replies every 0.9 s from 1.2 s after the stall, seen as a gap in the caller's frames; an
      // unseen stall of the unicast thread alone only the periodic free ticks drain, 40 ms a second.
      const first = STALL_AT + stallMs + 1200 + (visible ? 0 : stallMs * 25)
      for (let i = 0; i < 4; i++) late.push(await reply(r, 20 * Math.floor((first + 900 * i) / 20) + 7))
      const what = `${stallMs} ms stall${visible ? '' : ' of the unicast thread alone'}`
      // Without the free ticks each is written at least `stallMs` late (36-96 ms for 30-90 ms stalls, measured).
      t.ok(late.every((l) => Math.abs(l.linux) < 1e-9), `${what}, timerfd (Linux's default): each first frame written as it was ready (${late.map((l) => l.linux.toFixed(1)).join(', ')} ms)`)
      // The matrix timer (the simulator) may keep a lag of less than a tick: after a free tick
      // its next write re-syncs and waits for the tick (switch_time.c timer_next), and which of
      // our frames that was is unseen from here after a stall.
      t.ok(late.every((l) => l.simulated < 20), `${what}, matrix timer: under a tick late (${late.map((l) => l.simulated.toFixed(1)).join(', ')} ms)`)
      t.ok(r.pacer.drainSkipped > 0, `${what}: ${r.pacer.drainSkipped} idle frames left out`)
    }
  }
})

t.test('barge-in after a stall: only the frame sent ahead plays on, not the stall\'s lag', async (t) => {
  const r = rig({ stallMs: 358 })
  const { stopAt, spoken } = await bargeIn(r, STALL_AT + 358 + 1200, 300, 600)
  const lastHeard = Math.max(...spoken.map((s) => s.linux))
  t.ok(lastHeard - stopAt <= 40, `timerfd: the last frame written ${(lastHeard - stopAt).toFixed(1)} ms after the stop (the lead frame; 358 ms more with the lag)`)
  const lastSimulated = Math.max(...spoken.map((s) => s.simulated))
  t.ok(lastSimulated - stopAt <= 40, `matrix: ${(lastSimulated - stopAt).toFixed(1)} ms`)
})

t.test('no stall: the free ticks leave replies on time and the silence nearly whole', async (t) => {
  const r = rig()
  const waits: number[] = []
  for (let i = 0; i < 120; i++) {
    // Replies every 0.6-0.76 s at phases spread over the tick (7.3 ms steps).
    const at = now(r) + 600 + (i * 37.3) % 160
    waits.push((await reply(r, at)).simulated)
  }
  // Ready in the margin before a tick, a reply waits for it (write-align.spec.ts): up to ~6 ms.
  const beyond = waits.filter((w) => w > 7)
  // Only the matrix timer costs a reply anything: after a free tick its next write waits for the
  // next tick, so a reply that starts right then is written up to a tick late. timerfd: never.
  t.ok(beyond.length <= 6, `${beyond.length} of ${waits.length} replies written more than the margin late (${beyond.map((w) => w.toFixed(1)).join(', ')} ms)`)
  const idleSent = r.sent.filter((s) => s.value === 0).length
  const seconds = now(r) / 1000
  t.ok(r.pacer.drainSkipped <= 1.5 * seconds, `${r.pacer.drainSkipped} idle frames left out in ${seconds.toFixed(0)} s (${idleSent} sent)`)
  t.ok(r.sent.every((s, i) => i === 0 || s.linux >= r.sent[i - 1]!.linux), 'written in order')
})

t.test('a cold call: the keep-alive is never left out, and a stall leaves it nothing to drain', async (t) => {
  const r = rig({ warmMs: 1000, stallMs: 90 })
  r.clock.advance(8000)
  const late = r.sent.filter((s) => s.at > 2500)
  t.ok(late.length >= 5 && late.length <= 6, `one frame a second once cold (${late.length} in 5.5 s)`)
  const gaps = late.slice(1).map((s, i) => s.at - late[i]!.at)
  t.ok(gaps.every((g) => g < 1030), `none left out: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms apart`)
  t.ok(late.every((s) => s.linux === s.at), 'each written as it came (timerfd)')
})

t.test('timerfd, no idle silence: a stall\'s lag drains on the free ticks between replies; replies after it on time', async (t) => {
  for (const stallMs of [30, 90, 358]) {
    for (const visible of [true, false]) {
      const r = rig({ stallMs, visible, timerfd: true })
      const late: Array<{ simulated: number, linux: number }> = []
      // 200 ms after the stall: nothing of ours is sent between replies but the keep-alive, so
      // every tick in between is free and the lag is gone (the matrix agent needs 1.2 s, above).
      for (let i = 0; i < 4; i++) late.push(await reply(r, 20 * Math.floor((STALL_AT + stallMs + 200 + 900 * i) / 20) + 7))
      const what = `${stallMs} ms stall${visible ? '' : ' of the unicast thread alone'}`
      t.ok(late.every((l) => Math.abs(l.simulated) < 1e-9 && Math.abs(l.linux) < 1e-9), `${what}: each first frame written as it was ready (${late.map((l) => l.simulated.toFixed(1)).join(', ')} ms)`)
      t.equal(r.pacer.drainSkipped, 0, `${what}: no idle frame to leave out`)
    }
  }
  const r = rig({ stallMs: 358, timerfd: true })
  // A reply queued before the stall plays through it: its frames wait in the switch's socket.
  const { stopAt, spoken } = await bargeIn(r, STALL_AT - 100, 1000, 800)
  const lastHeard = Math.max(...spoken.map((s) => s.simulated))
  // While we speak a frame a tick the lag stays (as on the matrix, measured on a real switch): the
  // barge-in waits for what is queued at the switch; it drains after, on the free ticks.
  t.ok(lastHeard - stopAt > 300, `a barge-in in a reply that spans the stall: the last frame written ${(lastHeard - stopAt).toFixed(1)} ms after the stop (the stall's lag)`)
  t.equal(r.sent.at(-1)?.simulated, r.sent.at(-1)?.linux, 'the simulator\'s timerfd timer and the model agree')
  const after = await reply(r, now(r) + 207)
  t.ok(Math.abs(after.simulated) < 1e-9 && Math.abs(after.linux) < 1e-9, `and the next reply finds the lag drained (${after.simulated.toFixed(1)} ms)`)
})

t.test('timerfd, no stall: every reply\'s first frame is written as it is ready, at any phase; idle, one keep-alive a second', async (t) => {
  const r = rig({ timerfd: true })
  const waits: number[] = []
  for (let i = 0; i < 60; i++) waits.push((await reply(r, now(r) + 600 + (i * 37.3) % 160)).simulated)
  const waited = waits.filter((w) => Math.abs(w) > 1e-9)
  t.same(waited, [], `no reply of ${waits.length} waits`)
  const idleSent = r.sent.filter((s) => s.value === 0).length
  const seconds = now(r) / 1000
  t.ok(idleSent <= seconds + 1, `${idleSent} idle frames in ${seconds.toFixed(0)} s`)
})

t.test('write clock: a gap in the caller\'s frames is taken for a stall, once', async (t) => {
  const wc = new WriteClock()
  for (let k = 0; k < 10; k++) wc.observe(20 * k + (k % 3))
  t.equal(wc.takeStalled(), 0, 'frames one a tick (with jitter): no stall')
  wc.observe(180 + 20 + 358)
  t.equal(wc.takeStalled(), 358, 'a 378 ms gap: a 358 ms stall')
  t.equal(wc.takeStalled(), 0, 'taken once')
  wc.observe(558 + 5000)
  t.equal(wc.takeStalled(), 1000, 'bounded (the periodic free ticks drain any rest)')
})

t.test('write clock: each write says how many ticks before it no frame of ours held', async (t) => {
  const wc = new WriteClock()
  t.equal(wc.wrote(5), undefined, 'ticks unknown: no answer')
  for (let k = 0; k < 8; k++) wc.observe(20 * k)
  wc.forget()
  // The matrix timer's model (switch_time.c timer_next): after a resync a frame waits for the next tick.
  t.equal(wc.wrote(205), Number.POSITIVE_INFINITY, 'after forget(): every tick before was free (the frame re-syncs: due at tick 11)')
  t.equal(wc.wrote(225), 0, 'the next frame, due at tick 12: none free')
  t.equal(wc.wrote(285), 1, 'nothing due at tick 13: one free (this frame re-syncs: due at 15)')
  t.equal(wc.wrote(286), 0, 'a second frame in the same tick, due at 16: none')
  t.equal(wc.wrote(365), 1, 'a frame in tick 18: only 17 was free')
})
