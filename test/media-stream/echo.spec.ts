import t from 'tap'
import { EchoGuard, type EchoVerdict } from '../../lib/media/echo.ts'
import { BlockRing } from '../../lib/media/echo-history.ts'
import { resample } from '../../lib/media/resample.ts'
import { Vad } from '../../lib/media/vad/vad.ts'
import { CallerAudio } from '../../lib/simulator/caller.ts'
import { CallerEar } from '../../lib/simulator/ear.ts'
import type { CallerEcho } from '../../lib/simulator/types.ts'
import * as s from './signals.ts'
import { render, step, type Case } from './echo-lines.ts'

/**
 * The echo guard on synthetic speech through the simulator's own line echo (line-echo.ts):
 * our echo alone never reaches the barge-in VAD, a caller talking over us does, a line without
 * echo is recognised as such, and the guard costs nothing while we are silent.
 */

const RATE = 8000
const FRAME = 160

interface Run {
  readonly verdicts: EchoVerdict[]
  /** Speech starts of the barge-in VAD (60 ms of voice) fed through the guard, and without it. */
  readonly guarded: number[]
  readonly plain: number[]
  readonly guard: EchoGuard
}

/** The agent: two 3 s stretches of speech-like audio at -18 dBFS, 0.5 s in, with a pause between. */
function agentSpeech (): Int16Array {
  return s.concat([s.silence(RATE, 0.5), s.speechLike(RATE, 3, -18, { f0: 120, seed: 7 }), s.silence(RATE, 0.4), s.speechLike(RATE, 3, -18, { f0: 125, seed: 8 }), s.silence(RATE, 1)])
}

function run (options: { echo: CallerEcho, caller?: { atMs: number, samples: Int16Array }, rate?: number, jitterMs?: number, stall?: { atMs: number, ms: number } }): Run {
  const rate = options.rate ?? RATE
  const agent = agentSpeech()
  const frames = Math.floor(agent.length / FRAME)
  const ear = new CallerEar()
  const audio = new CallerAudio()
  audio.echo(options.echo, () => ear)
  if (options.caller !== undefined) audio.add(options.caller.atMs, options.caller.samples)
  const rand = s.rng(5)
  const jitter = (): number => (rand() * 2 - 1) * (options.jitterMs ?? 3)
  const guard = new EchoGuard({ rate })
  const vadGuarded = new Vad({ rate, minSpeechMs: 60, endSilenceMs: 300 })
  const vadPlain = new Vad({ rate, minSpeechMs: 60, endSilenceMs: 300 })
  const up = (x: Int16Array): Int16Array => rate === RATE ? x : resample(x, RATE, rate)
  const verdicts: EchoVerdict[] = []
  const guarded: number[] = []
  const plain: number[] = []
  const silence = new Int16Array(rate / 50)
  // Our frame k is sent a frame ahead and played at k * 20 (later after a stall); the caller's
  // frame i reaches us a frame and 10 ms of network after it started.
  const late = (k: number): number => options.stall !== undefined && k * 20 >= options.stall.atMs ? options.stall.ms : 0
  for (let k = 0; k < frames; k++) ear.writeNow(agent.subarray(k * FRAME, (k + 1) * FRAME), k * 20 + late(k))
  let sent = 0
  for (let i = 0; i < frames; i++) {
    const atMs = i * 20 + 30 + Math.abs(jitter())
    while (sent < frames && sent * 20 - 20 + late(sent) <= atMs) {
      guard.noteOutbound(up(agent.subarray(sent * FRAME, (sent + 1) * FRAME)), sent * 20 - 20 + late(sent) + jitter())
      sent++
    }
    const samples = up(audio.frame(i))
    const v = guard.inbound(samples, atMs)
    verdicts.push(v)
    const a = vadGuarded.push(v.echoOnly ? silence : samples, i * 20)
    const b = vadPlain.push(samples, i * 20)
    if (a?.type === 'speech-start') guarded.push(a.at)
    if (b?.type === 'speech-start') plain.push(b.at)
  }
  return { verdicts, guarded, plain, guard }
}

t.test('our echo alone never starts the barge-in VAD, 20 to 300 ms late, 6 to 20 dB down', async (t) => {
  for (const delayMs of [20, 150, 300]) {
    for (const attenuationDb of [6, 20]) {
      const r = run({ echo: { delayMs, attenuationDb, noiseDb: -60, seed: delayMs } })
      const name = `${delayMs} ms, ERL ${attenuationDb} dB`
      t.same(r.guarded, [], `${name}: no speech start through the guard`)
      if (attenuationDb === 6) t.ok(r.plain.length > 0, `${name}: the VAD alone does start on it (${r.plain.length})`)
      const line = r.guard.line
      t.equal(line.state, 'echo', `${name}: the echo was found`)
      // The guard sees the line's delay plus ours: sent a frame ahead, heard a frame and 10 ms later.
      t.ok(line.delayMs !== undefined && Math.abs(line.delayMs - (delayMs + 50)) <= 30, `${name}: at ${line.delayMs} ms`)
    }
  }
})

t.test('a caller talking over the agent still starts the VAD (double talk)', async (t) => {
  for (const [attenuationDb, levelDb] of [[6, -22], [10, -26], [20, -30]] as const) {
    const caller = s.speechLike(RATE, 1.5, levelDb, { f0: 210, seed: 21 })
    const r = run({ echo: { delayMs: 120, attenuationDb, noiseDb: -60 }, caller: { atMs: 2000, samples: caller } })
    const name = `ERL ${attenuationDb} dB, caller at ${levelDb} dBFS`
    const during = r.guarded.filter((at) => at >= 1900 && at <= 3600)
    t.ok(during.length >= 1, `${name}: a speech start during the caller's speech (${r.guarded.join(', ')})`)
    t.same(r.guarded.filter((at) => at < 1900 || at > 3600), [], `${name}: and none elsewhere`)
    const share = (from: number, to: number): number => {
      const frames = r.verdicts.slice(from / 20, to / 20)
      return frames.filter((v) => v.doubleTalk).length / frames.length
    }
    // Frames of echo alone are nearly never double talk; the caller's voiced frames often are.
    t.ok(share(2000, 3500) >= 0.15 && share(2000, 3500) > 4 * share(4000, 6500), `${name}: double talk while they talk (${share(2000, 3500).toFixed(2)}), not after (${share(4000, 6500).toFixed(2)})`)
  }
})

t.test('a line without echo is found clear, and every caller frame counts', async (t) => {
  const caller = s.speechLike(RATE, 1.5, -30, { f0: 210, seed: 22 })
  const r = run({ echo: { delayMs: 100, attenuationDb: 200, noiseDb: -50 }, caller: { atMs: 3000, samples: caller } })
  t.equal(r.guard.line.state, 'clear')
  t.same(r.guarded, r.plain, 'the guard changes nothing the VAD sees')
  t.equal(r.guarded.filter((at) => at >= 2900 && at <= 4600).length, 1)
})

t.test('jittery timestamps and a stall in our sending do not break it', async (t) => {
  const r = run({ echo: { delayMs: 80, attenuationDb: 8, noiseDb: -55 }, jitterMs: 6, stall: { atMs: 2500, ms: 120 } })
  t.same(r.guarded, [], 'no speech start through the guard')
  t.ok(r.plain.length > 0, 'the VAD alone starts on the echo')
})

t.test('16 kHz streams: the same', async (t) => {
  const r = run({ echo: { delayMs: 150, attenuationDb: 6, noiseDb: -60 }, rate: 16000 })
  t.same(r.guarded, [])
  t.ok(r.plain.length > 0)
  t.equal(r.guard.line.state, 'echo')
  const caller = s.speechLike(RATE, 1.5, -24, { f0: 210, seed: 23 })
  const dt = run({ echo: { delayMs: 150, attenuationDb: 6, noiseDb: -60 }, rate: 16000, caller: { atMs: 2500, samples: caller } })
  t.ok(dt.guarded.some((at) => at >= 2400 && at <= 4100), 'a caller over it is heard')
})

t.test('while we are silent the guard has nothing to say and does no work', async (t) => {
  const guard = new EchoGuard({ rate: RATE })
  const noisy = s.whiteNoise(RATE, 0.02, -30)
  t.same(guard.inbound(noisy, 0), { echoShare: 0, echoOnly: false, doubleTalk: false }, 'nothing sent yet')
  const speech = s.frames(s.speechLike(RATE, 1, -18), RATE)
  speech.forEach((f, k) => { guard.noteOutbound(f, k * 20) })
  let last: EchoVerdict | undefined
  for (let k = 0; k < 50; k++) {
    guard.noteOutbound(new Int16Array(FRAME), 1000 + k * 20)
    last = guard.inbound(noisy, 1000 + k * 20 + 30)
  }
  t.same(last, { echoShare: 0, echoOnly: false, doubleTalk: false }, 'a second after we stopped talking')
  t.equal(guard.line.state, 'learning', 'one second of our speech decides nothing about the line')
})

t.test('the silence we send is only scanned, and judged as written silence is', async (t) => {
  // Our silence as zeros (the quick path: not written) and, after a first silent frame has reset
  // our filters, with one sample at 4 per frame (above the silence test: filtered and written)
  // judge alike, at both rates, with a burst of frames stamped alike (a catch-up: the stream
  // steps back over blocks written).
  for (const rate of [8000, 16000]) {
    const n = rate / 50
    const ours = s.frames(s.concat([s.speechLike(rate, 1, -18, { seed: 31 }), s.silence(rate, 1), s.speechLike(rate, 1, -18, { seed: 32 }), s.silence(rate, 1)]), rate)
    const runs = [0, 4].map((mark) => {
      const guard = new EchoGuard({ rate })
      const out: EchoVerdict[] = []
      ours.forEach((frame, k) => {
        const settled = ours[k - 1]?.every((v) => v === 0) === true
        const sent = settled && frame.every((v) => v === 0) ? Int16Array.from(frame, (_, i) => i === n - 1 ? mark : 0) : frame
        guard.noteOutbound(sent, k >= 45 && k < 55 ? 45 * 20 : k * 20)
        // The caller's line: our frame of 100 ms ago, 10 dB down, plus line noise.
        const echo = ours[k - 5] ?? new Int16Array(n)
        const noise = s.whiteNoise(rate, 0.02, -60, k + 1)
        out.push(guard.inbound(Int16Array.from(echo, (v, i) => Math.round(v * 0.316) + (noise[i] as number)), k * 20 + 30))
      })
      return out
    })
    const [quick, full] = runs as [EchoVerdict[], EchoVerdict[]]
    t.same(quick.map((v) => v.echoOnly), full.map((v) => v.echoOnly), `${rate} Hz: the same frames are echo`)
    const diff = Math.max(...quick.map((v, i) => Math.abs(v.echoShare - (full[i] as EchoVerdict).echoShare)))
    t.ok(diff < 1e-9, `${rate} Hz: the same echo shares (${diff})`)
    t.ok(quick.some((v) => v.echoOnly), `${rate} Hz: echo was heard`)
  }
})

t.test('the ring hands out the slots of many blocks at once as at() gives them one by one', async (t) => {
  const ring = new BlockRing(7, 3)
  const into = new Int32Array(12)
  const check = (top: number): boolean => {
    ring.slots(top, into)
    return Array.from(into).every((slot, k) => slot === ring.at(top - k))
  }
  t.ok(check(5), 'nothing written: all -1')
  ring.write(-4, 3, new Float64Array(9).fill(1))
  ring.write(10, 4, new Float64Array(12).fill(2))
  const tops = [-3, 0, 6, 9, 13, 14, 16, 30]
  t.same(tops.filter((top) => !check(top)), [], 'negative blocks, wraps, past the end and long gone')
})

t.test('an idle ring lets its array go and reads as it would have with the array kept', async (t) => {
  const silence = [0, 0, -9]
  const kept = new BlockRing(7, 3, silence)
  const idle = new BlockRing(7, 3, silence)
  const block = (v: number): Float64Array => new Float64Array([v, v + 1, v + 2, v + 3, v + 4, v + 5])
  /** What a reader gets for blocks [top - 20, top]: a block's channels, or the silence for a block not held. */
  const reads = (ring: BlockRing, top: number): number[][] => Array.from({ length: 21 }, (_, k) => {
    const at = ring.at(top - k)
    return at < 0 ? silence : Array.from(ring.power.subarray(at, at + 3))
  })
  for (const ring of [kept, idle]) ring.write(0, 2, block(1))
  idle.idle(5)
  idle.idle(7 + 199)
  t.ok(idle.held, 'held until a capacity and the margin (200 blocks) past the end')
  t.same(reads(idle, 10), reads(kept, 10))
  idle.idle(2 + 7 + 200)
  t.notOk(idle.held, 'then let go')
  t.equal(idle.end, undefined, 'and reads as nothing written')
  t.same(reads(idle, 2 + 7 + 200), reads(kept, 2 + 7 + 200), 'the same reads where a reader can be then')
  // Our next reply: its blocks, and the reads around them, are those of the ring that kept its array.
  for (const ring of [kept, idle]) ring.write(230, 2, block(7))
  t.ok(idle.held)
  for (const top of [225, 230, 231, 232, 240]) t.same(reads(idle, top), reads(kept, top), `around block ${top}`)
  const into = new Int32Array(12)
  idle.slots(236, into)
  t.same(Array.from(into), Array.from({ length: 12 }, (_, k) => idle.at(236 - k)), 'slots() as at() after the new array')
})

t.test('a guard whose ring let its array go between two replies judges every frame as one that kept it', async (t) => {
  const cases: Case[] = [
    { name: 'echo 150 ms, a caller in the second reply', echo: { delayMs: 150, attenuationDb: 10, noiseDb: -60, seed: 31 }, pauseMs: 3000, caller: { atMs: 6200, samples: s.speechLike(RATE, 1.5, -22, { f0: 210, seed: 32 }) } },
    { name: 'no echo, 16 kHz, jitter', echo: { delayMs: 100, attenuationDb: 200, noiseDb: -55, seed: 33 }, pauseMs: 2500, rate: 16000, jitterMs: 6 },
    { name: 'echo 300 ms, 60 ms frames', echo: { delayMs: 300, attenuationDb: 6, noiseDb: -50, seed: 34 }, pauseMs: 4000, frameMs: 60 },
  ]
  const idle = Object.getOwnPropertyDescriptor(BlockRing.prototype, 'idle')?.value as BlockRing['idle']
  let released = 0
  const verdicts = (c: Case, keep: boolean): EchoVerdict[] => {
    BlockRing.prototype.idle = keep
      ? function (): void {}
      : function (this: BlockRing, now: number): void { const held = this.held; idle.call(this, now); if (held && !this.held) released++ }
    try {
      const frames = render(c)
      const guard = new EchoGuard({ rate: c.rate ?? RATE })
      const out: EchoVerdict[] = []
      const cursor = { at: 0 }
      for (let v = step(guard, frames, cursor); v !== undefined; v = step(guard, frames, cursor)) out.push(v)
      return out
    } finally {
      BlockRing.prototype.idle = idle
    }
  }
  for (const c of cases) {
    released = 0
    const lean = verdicts(c, false)
    t.ok(released > 0, `${c.name}: the ring let its array go in the pause`)
    t.same(lean, verdicts(c, true), `${c.name}: the same verdicts, to the bit`)
    t.ok(lean.some((v) => v.echoOnly) || c.echo.attenuationDb > 100, `${c.name}: echo heard in both replies' frames`)
  }
})

t.test('bad options are refused', async (t) => {
  t.throws(() => new EchoGuard({ rate: 44100 }), RangeError)
  t.throws(() => new EchoGuard({ rate: 8000, maxDelayMs: 5000 }), RangeError)
  t.throws(() => new EchoGuard({ rate: 8000, minDelayMs: 300, maxDelayMs: 200 }), RangeError)
  // Frames that are not a whole 5 ms block are ignored, not a crash.
  const guard = new EchoGuard({ rate: 8000 })
  guard.noteOutbound(new Int16Array(10), 0)
  t.same(guard.inbound(new Int16Array(0), 0), { echoShare: 0, echoOnly: false, doubleTalk: false })
})
