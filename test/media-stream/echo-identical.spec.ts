import t from 'tap'
import { EchoGuard, type EchoVerdict } from '../../lib/media/echo.ts'
import { Vad } from '../../lib/media/vad/vad.ts'
import { RATE, judge, render, step, type Case } from './echo-lines.ts'
import { ReferenceEchoGuard } from './echo-reference.ts'
import * as s from './signals.ts'

/**
 * The echo guard against a frozen copy of it (echo-reference.ts) that gives the verdicts it gave
 * before it looked at every delay only once every 120 ms on a line it knows (an echo's delay, or
 * no echo). Until the line is known nothing changed: on lines with and without echo, callers
 * talking over us, jitter, stalls, both rates and frames of 10 to 60 ms, every verdict while the
 * line is learnt is the copy's, and so is what both find when they first know the line. The
 * guard keeps its floors and ceilings in 32-bit floats (echo-ratios.ts), the copy in doubles:
 * echo-only and double talk are the copy's to the bit, the share of echo and the echo return loss
 * to 32-bit precision (a few parts in 10^8 seen). After that the verdicts may differ: the
 * barge-in VAD behind each must start at the same moments, and the line end up known the same
 * (bench/echo.ts scores both on the labelled set).
 */

/** Relative difference the 32-bit floors and ceilings leave in a share or a loss (2^-24 is 6e-8 a rounding; a few compound). */
const FLOAT32 = 1e-6
const close = (a: number | undefined, b: number | undefined): boolean => a === b || (a !== undefined && b !== undefined && Math.abs(a - b) <= FLOAT32 * Math.max(Math.abs(a), Math.abs(b)))

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
  // Callers while the line is still learnt: double talk in the phase compared to the bit. On the
  // line without echo both guards take the caller's words for an echo at first, and unlearn it
  // 3 s after it stops correlating: a longer call, so that both have by the end.
  { name: 'no echo, a caller while it learns', echo: { delayMs: 100, attenuationDb: 200, noiseDb: -55, seed: 14 }, caller: caller(600, -20, 27), stretches: 4 },
  { name: 'echo 150 ms, a caller while it learns', echo: { delayMs: 150, attenuationDb: 10, noiseDb: -60, seed: 15 }, caller: caller(550, -18, 28) },
]

const rendered = cases.map((c) => ({ c, frames: render(c) }))

t.test('while the line is learnt, every verdict and what the guard first finds are the reference\'s (shares and losses to 32-bit precision)', async (t) => {
  let echoOnly = 0
  let doubleTalk = 0
  let found = 0
  for (const { c, frames } of rendered) {
    const rate = c.rate ?? RATE
    const now = new EchoGuard({ rate })
    const ref = new ReferenceEchoGuard({ rate })
    const a = { at: 0 }
    const b = { at: 0 }
    const mismatches: string[] = []
    let i = 0
    // Up to the frame whose decision first leaves learning: it was judged as it always was.
    for (; now.line.state === 'learning'; i++) {
      const x = step(now, frames, a)
      const y = step(ref, frames, b)
      if (x === undefined || y === undefined) break
      if (x.echoOnly) echoOnly++
      if (x.doubleTalk) doubleTalk++
      if (!close(x.echoShare, y.echoShare) || x.echoOnly !== y.echoOnly || x.doubleTalk !== y.doubleTalk) mismatches.push(`frame ${i}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`)
    }
    t.same(mismatches.slice(0, 5), [], `${c.name}: ${mismatches.length} of ${i} verdicts differ`)
    const { erlDb, ...line } = now.line
    const { erlDb: refErlDb, ...refLine } = ref.line
    t.same(line, refLine, `${c.name}: the line when first known (${now.line.state})`)
    t.ok(close(erlDb, refErlDb), `${c.name}: its echo return loss (${erlDb} dB, the reference ${refErlDb})`)
    if (now.line.state !== 'learning') found++
  }
  // The learning phases decide both ways, often, and end in a known line nearly everywhere.
  t.ok(echoOnly > 300 && doubleTalk >= 20, `${echoOnly} echo-only and ${doubleTalk} double-talk frames compared`)
  t.ok(found >= rendered.length - 1, `${found} of ${rendered.length} lines known before the end`)
})

t.test('once the line is known: the barge-in VAD behind the guard starts when it does behind the reference, and the line ends up the same', async (t) => {
  let starts = 0
  let differ = 0
  for (const { c, frames } of rendered) {
    const rate = c.rate ?? RATE
    const guards = [new EchoGuard({ rate }), new ReferenceEchoGuard({ rate })] as const
    const vads = guards.map(() => new Vad({ rate, minSpeechMs: 60, endSilenceMs: 300 }))
    const started: number[][] = [[], []]
    const cursors = [{ at: 0 }, { at: 0 }]
    const silence = new Int16Array(rate * (c.frameMs ?? 20) / 1000)
    for (let i = 0; ; i++) {
      const judged = guards.map((g, k) => judge(g, frames, cursors[k] as { at: number }))
      if (judged.some((x) => x === undefined)) break
      judged.forEach((x, k) => {
        const s = vads[k]?.push(x?.verdict.echoOnly === true ? silence : x?.samples ?? silence, i * (c.frameMs ?? 20))
        if (s?.type === 'speech-start') started[k]?.push(s.at)
      })
      if (judged[0]?.verdict.echoOnly !== judged[1]?.verdict.echoOnly) differ++
    }
    t.same(started[0], started[1], `${c.name}: speech starts ${started[0]?.join(', ')}`)
    starts += started[0]?.length ?? 0
    const [now, ref] = guards.map((g) => g.line)
    t.same([now?.state, now?.delayMs], [ref?.state, ref?.delayMs], `${c.name}: the line at the end (${now?.state} at ${now?.delayMs} ms)`)
  }
  // Callers talk over us in half the cases: there are starts to compare, and verdicts that moved.
  t.ok(starts >= 5, `${starts} speech starts compared (${differ} frames judged otherwise)`)
})

t.test('many calls\' guards, frames interleaved (shared scratch), judge each as it does alone', async (t) => {
  const alone = rendered.map(({ c, frames }) => {
    const guard = new EchoGuard({ rate: c.rate ?? RATE })
    const cursor = { at: 0 }
    const out: EchoVerdict[] = []
    for (let v = step(guard, frames, cursor); v !== undefined; v = step(guard, frames, cursor)) out.push(v)
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
