import t from 'tap'
import { EchoGuard, type EchoVerdict } from '../../lib/media/echo.ts'
import { resample } from '../../lib/media/resample.ts'
import { CallerAudio } from '../../lib/simulator/caller.ts'
import { CallerEar } from '../../lib/simulator/ear.ts'
import type { CallerEcho } from '../../lib/simulator/types.ts'
import { ReferenceEchoGuard } from './echo-reference.ts'
import * as s from './signals.ts'

/**
 * The echo guard's hot path was made cheaper (what we sent laid out once per frame instead of
 * once per 5 ms block, the filterbank's four bands in one pass, each delay's correlation once per
 * frame). Its decisions must not move: on lines with and without echo, callers talking over us,
 * jitter, stalls, both rates and frames of 10 to 60 ms, every verdict is the one the frozen copy
 * of the guard before the change gives (echo-reference.ts), to the bit, and so is what it learns
 * of the line.
 */

const RATE = 8000

interface Case {
  readonly name: string
  readonly echo: CallerEcho
  readonly rate?: number
  readonly frameMs?: number
  readonly caller?: { readonly atMs: number, readonly samples: Int16Array }
  readonly jitterMs?: number
  readonly stall?: { readonly atMs: number, readonly ms: number }
}

interface Frames {
  /** In arrival order: ours to note, or the caller's to judge. */
  readonly events: ReadonlyArray<{ readonly out: boolean, readonly samples: Int16Array, readonly atMs: number }>
}

/** Our speech, its echo on the caller's line and the caller, as the guard gets them (echo.spec.ts's way). */
function render (c: Case): Frames {
  const rate = c.rate ?? RATE
  const frameMs = c.frameMs ?? 20
  const n = RATE * frameMs / 1000
  const agent = s.concat([s.silence(RATE, 0.5), s.speechLike(RATE, 2.5, -18, { f0: 120, seed: 7 }), s.silence(RATE, 0.6), s.speechLike(RATE, 2, -20, { f0: 125, seed: 8 }), s.silence(RATE, 1)])
  const frames = Math.floor(agent.length / n)
  const ear = new CallerEar()
  const audio = new CallerAudio()
  audio.echo(c.echo, () => ear)
  if (c.caller !== undefined) audio.add(c.caller.atMs, c.caller.samples)
  const rand = s.rng(9)
  const jitter = (): number => (rand() * 2 - 1) * (c.jitterMs ?? 3)
  const up = (x: Int16Array): Int16Array => rate === RATE ? x : resample(x, RATE, rate)
  const late = (k: number): number => c.stall !== undefined && k * frameMs >= c.stall.atMs ? c.stall.ms : 0
  for (let k = 0; k < frames; k++) ear.writeNow(agent.subarray(k * n, (k + 1) * n), k * frameMs + late(k))
  // The caller's audio comes in 20 ms frames from the simulator; regroup it to the frame size.
  const line = s.concat(Array.from({ length: Math.ceil(frames * frameMs / 20) }, (_, i) => audio.frame(i)))
  const events: Array<{ out: boolean, samples: Int16Array, atMs: number }> = []
  let sent = 0
  for (let i = 0; i < frames; i++) {
    const atMs = i * frameMs + frameMs + 10 + Math.abs(jitter())
    while (sent < frames && sent * frameMs - frameMs + late(sent) <= atMs) {
      events.push({ out: true, samples: up(agent.subarray(sent * n, (sent + 1) * n)), atMs: sent * frameMs - frameMs + late(sent) + jitter() })
      sent++
    }
    events.push({ out: false, samples: up(line.subarray(i * n, (i + 1) * n)), atMs })
  }
  return { events }
}

const caller = (atMs: number, levelDb: number, seed: number): Case['caller'] => ({ atMs, samples: s.speechLike(RATE, 1.5, levelDb, { f0: 210, seed }) })

const cases: Case[] = [
  { name: 'echo 20 ms, ERL 6 dB', echo: { delayMs: 20, attenuationDb: 6, noiseDb: -60, seed: 1 } },
  { name: 'echo 150 ms, ERL 20 dB', echo: { delayMs: 150, attenuationDb: 20, noiseDb: -60, seed: 2 } },
  { name: 'echo 300 ms, ERL 10 dB, noisy line', echo: { delayMs: 300, attenuationDb: 10, noiseDb: -45, seed: 3 } },
  { name: 'echo 120 ms and a caller over it', echo: { delayMs: 120, attenuationDb: 6, noiseDb: -60, seed: 4 }, caller: caller(2000, -22, 21) },
  { name: 'echo 60 ms, a quiet caller early', echo: { delayMs: 60, attenuationDb: 10, noiseDb: -55, seed: 5 }, caller: caller(700, -30, 22) },
  { name: 'no echo, line noise', echo: { delayMs: 100, attenuationDb: 200, noiseDb: -60, seed: 6 } },
  { name: 'no echo, a caller over us', echo: { delayMs: 100, attenuationDb: 200, noiseDb: -50, seed: 7 }, caller: caller(3000, -30, 23) },
  { name: 'jitter and a stall in our sending', echo: { delayMs: 80, attenuationDb: 8, noiseDb: -55, seed: 8 }, jitterMs: 6, stall: { atMs: 2500, ms: 120 } },
  { name: '16 kHz, echo 150 ms', echo: { delayMs: 150, attenuationDb: 6, noiseDb: -60, seed: 9 }, rate: 16000, caller: caller(2500, -24, 24) },
  { name: '16 kHz, no echo', echo: { delayMs: 150, attenuationDb: 200, noiseDb: -60, seed: 10 }, rate: 16000 },
  { name: '10 ms frames', echo: { delayMs: 200, attenuationDb: 10, noiseDb: -60, seed: 11 }, frameMs: 10, caller: caller(3500, -24, 25) },
  { name: '30 ms frames', echo: { delayMs: 40, attenuationDb: 15, noiseDb: -60, seed: 12 }, frameMs: 30 },
  { name: '60 ms frames', echo: { delayMs: 250, attenuationDb: 6, noiseDb: -50, seed: 13 }, frameMs: 60, caller: caller(2000, -20, 26) },
]

interface Guard { noteOutbound (samples: Int16Array, sentAtMs: number): void, inbound (samples: Int16Array, atMs: number): EchoVerdict }

/** Feed `frames` into `guard` from `from` until the next caller's frame (inclusive); that frame's verdict. */
function step (guard: Guard, frames: Frames, cursor: { at: number }): EchoVerdict | undefined {
  for (; cursor.at < frames.events.length; cursor.at++) {
    const e = frames.events[cursor.at]
    if (e === undefined) break
    if (e.out) { guard.noteOutbound(e.samples, e.atMs); continue }
    cursor.at++
    return guard.inbound(e.samples, e.atMs)
  }
  return undefined
}

const rendered = cases.map((c) => ({ c, frames: render(c) }))

t.test('every verdict and what the guard learns of the line are the reference\'s, to the bit', async (t) => {
  let echoOnly = 0
  let doubleTalk = 0
  for (const { c, frames } of rendered) {
    const rate = c.rate ?? RATE
    const now = new EchoGuard({ rate })
    const ref = new ReferenceEchoGuard({ rate })
    const a = { at: 0 }
    const b = { at: 0 }
    const mismatches: string[] = []
    for (let i = 0; ; i++) {
      const x = step(now, frames, a)
      const y = step(ref, frames, b)
      if (x === undefined || y === undefined) break
      if (x.echoOnly) echoOnly++
      if (x.doubleTalk) doubleTalk++
      if (x.echoShare !== y.echoShare || x.echoOnly !== y.echoOnly || x.doubleTalk !== y.doubleTalk) mismatches.push(`frame ${i}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`)
    }
    t.same(mismatches.slice(0, 5), [], `${c.name}: ${mismatches.length} verdicts differ`)
    t.same(now.line, ref.line, `${c.name}: the line (${now.line.state})`)
  }
  // The set decides both ways, often: a comparison of verdicts that never change would prove little.
  t.ok(echoOnly > 1000 && doubleTalk > 100, `${echoOnly} echo-only and ${doubleTalk} double-talk frames compared`)
})

t.test('many calls\' guards, frames interleaved (shared scratch), judge each as the reference alone', async (t) => {
  const alone = rendered.map(({ c, frames }) => {
    const ref = new ReferenceEchoGuard({ rate: c.rate ?? RATE })
    const cursor = { at: 0 }
    const out: EchoVerdict[] = []
    for (let v = step(ref, frames, cursor); v !== undefined; v = step(ref, frames, cursor)) out.push(v)
    return out
  })
  const guards = rendered.map(({ c }) => new EchoGuard({ rate: c.rate ?? RATE }))
  const cursors = rendered.map(() => ({ at: 0 }))
  const mismatches: string[] = []
  for (let i = 0; i < Math.max(...alone.map((list) => list.length)); i++) {
    rendered.forEach(({ c, frames }, k) => {
      const v = step(guards[k] as EchoGuard, frames, cursors[k] as { at: number })
      if (v !== undefined && JSON.stringify(v) !== JSON.stringify(alone[k]?.[i])) mismatches.push(`${c.name} frame ${i}`)
    })
  }
  t.same(mismatches.slice(0, 5), [], `${mismatches.length} verdicts differ`)
})

t.test('after a silence long enough for the guard to go idle, the echo of our next words is caught from its first frame', async (t) => {
  // render()'s agent: speech from 0.5 s, 0.6 s of silence from 3 s (longer than the longest
  // delay, 400 ms: the guard stops looking), speech again from 3.6 s, each frame sent 20 ms
  // ahead. The caller's frame i arrives at about i * 20 + 30 ms.
  for (const c of cases.filter((x) => x.caller === undefined && x.stall === undefined && x.frameMs === undefined && x.rate === undefined && x.echo.attenuationDb < 100)) {
    const frames = render(c)
    const guard = new EchoGuard({ rate: RATE })
    const cursor = { at: 0 }
    const verdicts: EchoVerdict[] = []
    for (let v = step(guard, frames, cursor); v !== undefined; v = step(guard, frames, cursor)) verdicts.push(v)
    const idle = verdicts.slice(3440 / 20, 3540 / 20)
    t.ok(idle.every((v) => v.echoShare === 0 && !v.echoOnly), `${c.name}: idle before we talk again (${idle.map((v) => v.echoShare.toFixed(2)).join(' ')})`)
    // From a frame after the echo of our first words can arrive, for 300 ms: all echo, no double talk.
    const from = Math.ceil((3600 + c.echo.delayMs + 40) / 20)
    const resumed = verdicts.slice(from, from + 15)
    t.same(resumed.filter((v) => !v.echoOnly).length, 0, `${c.name}: the echo after we resume is echo-only (${resumed.map((v) => v.echoShare.toFixed(2)).join(' ')})`)
  }
})
