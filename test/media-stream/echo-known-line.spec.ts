import t from 'tap'
import { EchoGuard } from '../../lib/media/echo.ts'
import type { LineState } from '../../lib/media/echo-line.ts'
import { Vad } from '../../lib/media/vad/vad.ts'
import { RATE, judge, render, type Case, type Guard } from './echo-lines.ts'
import { ReferenceEchoGuard } from './echo-reference.ts'

/**
 * Once the guard knows a line (an echo's delay, or no echo) it looks at every delay only once
 * every 120 ms (lib/media/echo.ts, FULL_EVERY). A line that changes must still be followed: one
 * found clear that starts echoing, an echo that moves to another delay, an echo that goes. Each
 * is caught in about the time the guard has always taken, and the barge-in VAD behind the guard
 * starts exactly when it does behind the frozen copy that looked at every delay on every block
 * (echo-reference.ts).
 */

interface Change extends Case {
  readonly then: NonNullable<Case['then']>
  /** What the line is once the change is followed: its state and, with echo, the delay the guard sees (the line's + ~50 ms). */
  readonly expect: { readonly state: LineState, readonly delayMs?: number }
  /** How long after the change it may take, ms of our speech. */
  readonly withinMs: number
}

// Six stretches of our speech (~15 s, pauses short enough to keep the guard looking); the line
// changes 4 s in, in the middle of the second.
const changes: Change[] = [
  {
    name: 'a line found clear starts echoing',
    echo: { delayMs: 100, attenuationDb: 200, noiseDb: -60, seed: 1 },
    then: { atMs: 4000, echo: { delayMs: 150, attenuationDb: 6, noiseDb: -60, seed: 1 } },
    expect: { state: 'echo', delayMs: 200 },
    withinMs: 2500,
  },
  {
    name: 'an echo moves from 100 to 250 ms',
    echo: { delayMs: 100, attenuationDb: 6, noiseDb: -60, seed: 2 },
    then: { atMs: 4000, echo: { delayMs: 250, attenuationDb: 6, noiseDb: -60, seed: 2 } },
    expect: { state: 'echo', delayMs: 300 },
    withinMs: 2500,
  },
  {
    name: 'an echo goes',
    echo: { delayMs: 100, attenuationDb: 6, noiseDb: -60, seed: 3 },
    then: { atMs: 4000, echo: { delayMs: 100, attenuationDb: 200, noiseDb: -60, seed: 3 } },
    expect: { state: 'clear' },
    // An echo is only unlearnt after 3 s without correlation (echo-line.ts LOST), once the sums
    // have forgotten it (~2 s), and the line is then learnt again.
    withinMs: 6500,
  },
]

interface Run {
  /** When the line was first what the change makes it (ms of the caller's stream), if ever. */
  readonly followedAt: number | undefined
  /** Before the change, what the guard knew of the line. */
  readonly before: string
  readonly starts: number[]
}

function run (c: Change, guard: Guard & { readonly line: { state: LineState, delayMs?: number } }): Run {
  const frames = render({ ...c, stretches: 6 })
  const vad = new Vad({ rate: RATE, minSpeechMs: 60, endSilenceMs: 300 })
  const silence = new Int16Array(RATE / 50)
  const cursor = { at: 0 }
  const starts: number[] = []
  let followedAt: number | undefined
  let before = ''
  for (let i = 0; ; i++) {
    const judged = judge(guard, frames, cursor)
    if (judged === undefined) break
    const s = vad.push(judged.verdict.echoOnly ? silence : judged.samples, i * 20)
    if (s?.type === 'speech-start') starts.push(s.at)
    const { state, delayMs } = guard.line
    if (i * 20 < c.then.atMs) before = `${state}${delayMs === undefined ? '' : ` at ${delayMs} ms`}`
    const near = c.expect.delayMs === undefined || (delayMs !== undefined && Math.abs(delayMs - c.expect.delayMs) <= 30)
    if (i * 20 >= c.then.atMs && followedAt === undefined && state === c.expect.state && near) followedAt = i * 20
  }
  return { followedAt, before, starts }
}

for (const c of changes) {
  t.test(c.name, async (t) => {
    const now = run(c, new EchoGuard({ rate: RATE }))
    const ref = run(c, new ReferenceEchoGuard({ rate: RATE }))
    t.not(now.before, c.expect.state, `before the change the line was known otherwise (${now.before})`)
    t.ok(now.followedAt !== undefined && now.followedAt <= c.then.atMs + c.withinMs, `followed at ${now.followedAt} ms (the reference at ${ref.followedAt} ms)`)
    t.same(now.starts, ref.starts, `the VAD behind it starts when it does behind the reference (${now.starts.join(', ')})`)
  })
}
