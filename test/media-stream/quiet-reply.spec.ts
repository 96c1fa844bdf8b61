import t from 'tap'
import { CallPacer } from '../../lib/media/stream/call-pacer.ts'
import { OutboundQueue } from '../../lib/media/stream/outbound.ts'
import { QuietIdle } from '../../lib/media/stream/quiet-idle.ts'
import { FrameScheduler } from '../../lib/media/stream/scheduler.ts'
import { WriteClock } from '../../lib/media/stream/write-clock.ts'
import { CallerEar, type HeardFrame } from '../../lib/simulator/ear.ts'
import { FakeClock } from './fake-clock.ts'

/**
 * A quiet call going cold (quiet-idle.ts) against the simulator's model of FreeSWITCH's write
 * timer (CallerEar.queueUnicast, after switch_time.c timer_next), on a fake clock, the pacer gated
 * as the endpoint gates it: audio queued is always sent, idle silence only while QuietIdle wants
 * it. The switch's ticks fall at BASE + 20k; the caller's frames (a quiet line) reach us 0.3 ms
 * after them. What it pins down: a cold call sends a frame a second; a reply on it is written at
 * most a tick later than on a warm one, and FreeSWITCH holds at most one frame more of it; after
 * it the call is warm and the next reply is written as it arrives.
 */

const BASE = 1003.4
const WARM_MS = 1000

interface Rig {
  readonly clock: FakeClock
  readonly queue: OutboundQueue
  readonly pacer: CallPacer
  readonly ear: CallerEar
  readonly sent: Array<{ at: number, value: number, heard: HeardFrame }>
}

function rig (): Rig {
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock })
  const queue = new OutboundQueue(8000)
  const writeClock = new WriteClock()
  const quiet = new QuietIdle(clock.now(), WARM_MS)
  const ear = new CallerEar()
  const sent: Rig['sent'] = []
  const pacer = new CallPacer({
    scheduler,
    queue,
    lead: 1,
    canSend: () => !queue.empty || quiet.wanted(clock.now()),
    writeClock,
    send: (now) => {
      const idle = queue.idle
      const frame = queue.nextFrame(now)
      queue.sent(now)
      quiet.sent(now, !idle)
      const samples = new Int16Array(frame.buffer, frame.byteOffset, 160)
      sent.push({ at: now, value: frame.readInt16LE(0), heard: ear.queueUnicast(Int16Array.from(samples), now - BASE) })
    },
  })
  const line = new Int16Array(160).fill(-20) // a quiet line: never a sound
  for (let k = 1; k < 500; k++) {
    clock.set(() => {
      writeClock.observe(clock.now())
      quiet.heard(line, clock.now())
    }, BASE + 20 * k + 0.3 - clock.now())
  }
  t.teardown(() => { pacer.close() })
  return { clock, queue, pacer, ear, sent }
}

/** A reply of five frames (first samples 1..5) queued `phase` ms after a tick; returns when it is ready and its frames. */
async function reply (r: Rig, phase: number): Promise<{ ready: number, frames: Rig['sent'] }> {
  const now = r.clock.now()
  r.clock.advance(BASE + Math.ceil((now - BASE) / 20) * 20 + phase - now)
  const ready = r.clock.now()
  const from = r.sent.length
  const audio = new Int16Array(800)
  for (let f = 0; f < 5; f++) audio.fill(f + 1, f * 160, (f + 1) * 160)
  r.queue.enqueue(audio)
  r.pacer.kick() // as the endpoint's enqueue does
  await Promise.resolve() // the kick's microtask
  return { ready, frames: r.sent.slice(from) }
}

/** Let a reply play out (200 ms); returns the most frames FreeSWITCH held meanwhile. */
function playOut (r: Rig): number {
  let held = 0
  for (let i = 0; i < 10; i++) {
    r.clock.advance(20)
    held = Math.max(held, r.ear.queueDepth(r.clock.now() - BASE))
  }
  return held
}

/** How long after `ready` the switch wrote the reply's first frame (first sample 1). */
function firstWritten (r: Rig, ready: number): number {
  const frame = r.sent.find((s) => s.at >= ready && s.value === 1)
  return (frame?.heard.writtenMs ?? Number.NaN) - (ready - BASE)
}

t.test('a cold quiet call: a keep-alive a second; a reply a tick late at most, one frame more held; warm after it', async (t) => {
  const r = rig()
  // Past the warm window and the settling gap: cold.
  r.clock.advance(3000)
  const from = r.sent.length
  r.clock.advance(3000)
  const cold = r.sent.slice(from)
  t.ok(cold.length >= 2 && cold.length <= 4, `cold: ${cold.length} frames in 3 s (one a second)`)

  // A reply on the cold call, 7 ms into a tick. The pacer sends at once (frame 0 and the lead).
  const first = await reply(r, 7)
  const sentNow = first.frames.length
  t.equal(sentNow, 2, 'the first frame and the lead went out at once')
  const held = playOut(r)
  const waitCold = firstWritten(r, first.ready)
  t.ok(waitCold > 0 && waitCold <= 20, `cold: written ${waitCold.toFixed(1)} ms after it was ready (the timer re-syncs: the next tick)`)
  t.ok(held <= 3, `FreeSWITCH held at most ${held} frames of it`)

  // Within the warm window after the reply: the next one is written as it arrives.
  r.clock.advance(200)
  const second = await reply(r, 7)
  const heldWarm = playOut(r)
  const waitWarm = firstWritten(r, second.ready)
  t.ok(waitWarm >= 0 && waitWarm < 1, `warm: written ${waitWarm.toFixed(1)} ms after it was ready`)
  t.ok(waitWarm < waitCold, 'the warm timer writes it sooner than the cold one')
  t.ok(held <= heldWarm + 1, `the cold start holds at most one frame more than a warm one (${held} against ${heldWarm})`)
})
