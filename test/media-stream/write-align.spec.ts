import t from 'tap'
import { CallPacer } from '../../lib/media/stream/call-pacer.ts'
import { OutboundQueue } from '../../lib/media/stream/outbound.ts'
import { FrameScheduler } from '../../lib/media/stream/scheduler.ts'
import { WriteClock } from '../../lib/media/stream/write-clock.ts'
import { CallerEar, type HeardFrame } from '../../lib/simulator/ear.ts'
import { FakeClock } from './fake-clock.ts'

/**
 * Idle silence just before FreeSWITCH's RTP write ticks (call-pacer.ts, write-clock.ts), judged
 * by the simulator's model of that timer (CallerEar.queueUnicast, after switch_time.c
 * timer_next) on a fake clock: the switch's ticks fall at BASE + 20k, the caller's frames leave on
 * them and reach us late by a jitter of our own choosing.
 */

const BASE = 1003.4
/** A deterministic jitter source (no Math.random: a failure must replay). */
function lcg (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 }
}

interface Rig {
  readonly clock: FakeClock
  readonly queue: OutboundQueue
  readonly pacer: CallPacer
  readonly writeClock: WriteClock
  readonly ear: CallerEar
  /** Every frame handed to FreeSWITCH: [clock time, first sample, what the switch did with it]. */
  readonly sent: Array<{ at: number, value: number, heard: HeardFrame }>
}

/**
 * A pacer whose frames reach the modelled switch at once. `delay(k)` is how late the caller's
 * frame k reaches us after its tick; `aligned` false runs the pacer without the write clock.
 */
function rig (options: { aligned?: boolean, delay?: (k: number) => number, lead?: number, late?: () => number } = {}): Rig {
  const clock = new FakeClock()
  const late = options.late
  // A loaded event loop: each of the scheduler's wake-ups fires `late()` ms after it was due.
  const timers = late === undefined ? clock : { set: (fn: () => void, ms: number) => clock.set(fn, ms + late()), clear: (h: unknown) => { clock.clear(h) } }
  const scheduler = new FrameScheduler({ clock, timers })
  const queue = new OutboundQueue(8000)
  const writeClock = new WriteClock()
  const ear = new CallerEar()
  const sent: Rig['sent'] = []
  const pacer = new CallPacer({
    scheduler,
    queue,
    lead: options.lead ?? 1,
    canSend: () => true,
    writeClock: options.aligned === false ? undefined : writeClock,
    send: (now) => {
      const frame = queue.nextFrame(now)
      queue.sent(now)
      const samples = new Int16Array(frame.buffer, frame.byteOffset, 160)
      sent.push({ at: now, value: frame.readInt16LE(0), heard: ear.queueUnicast(Int16Array.from(samples), now - BASE) })
    },
  })
  // The caller's frames for the next 10 s, each on its tick plus the delay.
  const delay = options.delay ?? (() => 0.3)
  for (let k = 1; k < 500; k++) clock.set(() => { writeClock.observe(clock.now()) }, BASE + 20 * k + delay(k) - clock.now())
  t.teardown(() => { pacer.close() })
  return { clock, queue, pacer, writeClock, ear, sent }
}

/** Queue five frames of audio, each frame's first sample 1..5, and let the kick's microtask run. */
async function reply (r: Rig): Promise<void> {
  const audio = new Int16Array(800)
  for (let f = 0; f < 5; f++) audio.fill(f + 1, f * 160, (f + 1) * 160)
  r.queue.enqueue(audio)
  r.pacer.kick()
  await Promise.resolve()
}

/**
 * How long after its audio was ready the reply's first frame was written toward the caller, for
 * a reply queued `phase` ms after a tick: our own hold (just after a tick) plus the switch's
 * write timer.
 */
async function firstFrameWait (r: Rig, phase: number): Promise<number> {
  const now = r.clock.now()
  const tick = BASE + Math.ceil((now - BASE) / 20) * 20
  r.clock.advance(tick + phase - now)
  const ready = r.clock.now()
  const from = r.sent.length
  await reply(r)
  r.clock.advance(200) // the reply plays out and the call is idle again
  const first = r.sent.slice(from).find((s) => s.value === 1)
  return first === undefined ? Number.NaN : first.heard.writtenMs - (ready - BASE)
}

t.test('write clock: the ticks are placed from the earliest arrivals, through jitter and a frame off the tick', async (t) => {
  const wc = new WriteClock()
  const rnd = lcg(7)
  t.equal(wc.known, false, 'unknown before the first frames')
  for (let k = 0; k < 64; k++) {
    // Up to 9 ms of lateness (a busy event loop), and every 16th frame 7 ms early (a "hot" socket read off the timer).
    const at = BASE + 20 * k + (k % 16 === 5 ? -7 : rnd() * 9)
    wc.observe(at)
  }
  t.equal(wc.known, true)
  const tick = wc.tickAt(wc.interval(BASE + 20 * 70 + 10) as number)
  const error = tick - (BASE + 20 * 70)
  t.ok(error >= 0 && error < 1.5, `tick placed ${error.toFixed(2)} ms after the true one (never before it: frames leave on the tick)`)
})

t.test('write clock: the model of timer_next (a tick per write, a second write waits, a resync after two idle ticks)', async (t) => {
  const wc = new WriteClock()
  for (let k = 0; k < 8; k++) wc.observe(BASE + 20 * k)
  const at = (k: number, ms: number): number => BASE + 20 * k + ms
  t.equal(wc.wouldMeet(at(10, 5)), 'resync', 'nothing written yet: the timer syncs and the write waits')
  wc.wrote(at(10, 5))
  t.equal(wc.wouldMeet(at(10, 15)), 'waits', 'the frame took tick 11; another in tick 10 waits')
  t.equal(wc.wouldMeet(at(11, 3)), 'waits', 'tick 11 is held')
  t.equal(wc.wouldMeet(at(12, 3)), 'now', 'tick 12 is free')
  wc.wrote(at(12, 3))
  t.equal(wc.wouldMeet(at(14, 1)), 'resync', 'no write in tick 13: resync')
})

t.test('idle: one silence frame per write tick, sent just before it and written at once (nothing held ahead)', async (t) => {
  const r = rig()
  r.clock.advance(1000)
  const idle = r.sent.filter((s) => s.at > BASE + 400)
  t.ok(idle.length >= 28, `about one per tick (${idle.length} in 600 ms)`)
  const phases = idle.map((s) => (s.at - BASE) % 20)
  t.ok(phases.every((p) => p >= 9 && p <= 14.5), `every frame 6-11 ms before the tick (less the 0.3 ms the caller's frames take to reach us) (phases ${Math.min(...phases).toFixed(1)}-${Math.max(...phases).toFixed(1)})`)
  t.ok(idle.every((s) => s.heard.writtenMs === s.heard.arrivalMs), 'each written as it arrived')
  t.ok(idle.every((s) => s.heard.playMs - s.heard.arrivalMs < 1e-9), 'and played at once: no frame of ours queued ahead')
})

t.test('a reply\'s first frame is written at once wherever in the tick its audio is ready; without the write clock it waits up to a tick', async (t) => {
  const aligned = rig()
  const plain = rig({ aligned: false })
  aligned.clock.advance(600)
  plain.clock.advance(600 + 7) // the shared grid 7 ms past the switch's ticks
  const waits: number[] = []
  const plainWaits: number[] = []
  for (let phase = 0.5; phase < 20; phase += 1.5) {
    waits.push(await firstFrameWait(aligned, phase))
    plainWaits.push(await firstFrameWait(plain, phase))
  }
  t.ok(waits.every((w) => w <= 11), `aligned: the first frame waited at most ${Math.max(...waits).toFixed(1)} ms (only when ready in the margin before a tick, after that tick's silence went)`)
  const atOnce = waits.filter((w) => w < 1e-9).length
  t.ok(atOnce >= waits.length / 2, `and most (${atOnce} / ${waits.length}) not at all`)
  t.ok(Math.max(...plainWaits) > 15, `the shared grid alone: up to ${Math.max(...plainWaits).toFixed(1)} ms (a tick, plus a frame held ahead by each earlier reply that started after its tick's silence)`)
  t.ok(aligned.sent.every((s, i) => i === 0 || s.heard.writtenMs >= aligned.sent[i - 1]!.heard.writtenMs), 'written in order')
})

t.test('after a reply the idle silence is back in phase: the next reply\'s first frame is written at once', async (t) => {
  for (const lead of [0, 1, 2]) {
    const r = rig({ lead })
    r.clock.advance(600)
    await firstFrameWait(r, 3) // a reply; its last frames held ticks ahead
    const skipped = r.pacer.idleSkipped
    r.clock.advance(100)
    const wait = await firstFrameWait(r, 4)
    t.ok(wait < 1e-9, `lead ${lead}: the next reply's first frame went out as it arrived (${wait} ms)`)
    t.ok(r.pacer.idleSkipped - skipped <= 2, `lead ${lead}: ${r.pacer.idleSkipped - skipped} idle frame(s) skipped after the reply to free the tick`)
  }
})

t.test('a late wake-up (a busy loop) costs a skipped idle frame, not a tick of delay on every reply after it', async (t) => {
  const r = rig()
  r.clock.advance(600)
  const now = r.clock.now()
  const tick = BASE + Math.ceil((now - BASE) / 20) * 20
  r.clock.advance(tick - 3 - now)
  r.clock.stall(8) // the loop blocked across the tick: the idle frame due before it goes after it
  r.clock.advance(100)
  t.equal(await firstFrameWait(r, 2), 0, 'the next reply is written at once')
  const gaps = r.ear.gaps(BASE + 400 - BASE, BASE + 1200 - BASE)
  t.ok(gaps.length <= 3, `a few missed silence packets at most (${gaps.length})`)
})

t.test('jittery arrivals: idle stays ahead of the ticks and replies are written at once', async (t) => {
  const rnd = lcg(42)
  const r = rig({ delay: (k) => (k % 11 === 3 ? 12 : rnd() * 4) })
  r.clock.advance(800)
  const waits: number[] = []
  for (const phase of [1, 4, 7, 10, 13]) waits.push(await firstFrameWait(r, phase))
  t.ok(waits.every((w) => w <= 1), `every first frame written within 1 ms of its audio being ready (${waits.map((w) => w.toFixed(2)).join(', ')}; held just past a tick when ready right at it)`)
})

t.test('frames sent before the ticks were known (a greeting) do not leave the model wrong: a settling gap, then replies written at once', async (t) => {
  for (const greetingAt of [2, 9, 15]) {
    const r = rig()
    r.clock.advance(greetingAt)
    await reply(r) // the greeting, sent before the caller's first frames placed the ticks
    r.clock.advance(600)
    const waits: number[] = []
    for (const phase of [2, 8, 12]) waits.push(await firstFrameWait(r, phase))
    t.same(waits, [0, 0, 0], `greeting at +${greetingAt} ms: each later reply's first frame written as it was ready`)
  }
})

t.test('idle wake-ups that come late: the margin grows, so idle frames are not skipped for it and replies still go at once', async (t) => {
  let n = 0
  // Every 7th wake-up 5 ms late: past a 6 ms margin's room (a frame within 4 ms of its tick is skipped).
  const r = rig({ late: () => (++n % 7 === 0 ? 5 : 0) })
  r.clock.advance(1000)
  const skipped = r.pacer.idleSkipped
  const sent = r.sent.length
  r.clock.advance(2000)
  const slots = 100
  t.ok(r.pacer.idleSkipped - skipped <= 2, `${r.pacer.idleSkipped - skipped} of ${slots} idle frames skipped once the margin grew (${r.sent.length - sent} sent)`)
  const waits: number[] = []
  for (const phase of [2, 6]) waits.push(await firstFrameWait(r, phase))
  t.ok(waits.every((w) => w <= 1), `replies ready early in the tick still written at once (${waits.join(', ')} ms)`)
})
