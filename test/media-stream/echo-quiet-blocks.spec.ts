import t from 'tap'
import { EchoGuard, type EchoVerdict } from '../../lib/media/echo.ts'
import { judge, render, type Case } from './echo-lines.ts'
import * as s from './signals.ts'

/**
 * On a line found clear, a caller's block within twice the line noise in every band cannot be
 * loud whatever the bound, so between full looks the guard works out no bound for it and lays out
 * nothing of what we sent unless another block of the frame needs it (lib/media/echo.ts). The
 * verdicts must be exactly those of the guard that works every bound out (`skipQuietBounds:
 * false`), frame by frame, on clear lines with and without a caller talking over us, on lines
 * with echo (where it never applies) and on one whose echo goes.
 */

const cases: Case[] = []
for (const rate of [8000, 16000]) {
  for (const noiseDb of [-70, -60, -45]) {
    for (const attenuationDb of [200, 25, 10]) {
      for (const callerAt of [undefined, 800, 3000]) {
        cases.push({
          name: `${rate} Hz, noise ${noiseDb} dBFS, echo ${attenuationDb} dB down, caller ${callerAt ?? 'silent'}`,
          rate,
          echo: { delayMs: 120, attenuationDb, noiseDb, seed: 5 },
          stretches: 4,
          ...(callerAt !== undefined ? { caller: { atMs: callerAt, samples: s.speechLike(8000, 1.5, -24, { f0: 200, seed: 11 }) } } : {}),
        })
      }
    }
  }
}
cases.push({
  name: 'an echo that goes 4 s in',
  echo: { delayMs: 100, attenuationDb: 6, noiseDb: -60, seed: 3 },
  then: { atMs: 4000, echo: { delayMs: 100, attenuationDb: 200, noiseDb: -60, seed: 3 } },
  stretches: 6,
})

function run (c: Case, skipQuietBounds: boolean): { verdicts: EchoVerdict[], guard: EchoGuard, clearFrames: number } {
  const frames = render(c)
  const guard = new EchoGuard({ rate: c.rate ?? 8000, skipQuietBounds })
  const cursor = { at: 0 }
  const verdicts: EchoVerdict[] = []
  let clearFrames = 0
  for (;;) {
    const clear = guard.line.state === 'clear'
    const judged = judge(guard, frames, cursor)
    if (judged === undefined) break
    verdicts.push(judged.verdict)
    // A frame the guard judged (one while we are silent is idle: no verdict worked out).
    const { echoShare, echoOnly, doubleTalk } = judged.verdict
    if (clear && (echoShare > 0 || echoOnly || doubleTalk)) clearFrames++
  }
  return { verdicts, guard, clearFrames }
}

t.test('a clear line\'s quiet blocks judged without their bound: every verdict the same', async (t) => {
  let quietBlocks = 0
  let clearFrames = 0
  let talkedOver = 0
  for (const c of cases) {
    const lazy = run(c, true)
    const every = run(c, false)
    const differ = lazy.verdicts.findIndex((v, i) => JSON.stringify(v) !== JSON.stringify(every.verdicts[i]))
    t.equal(differ, -1, `${c.name}: ${lazy.verdicts.length} verdicts the same${differ >= 0 ? ` (frame ${differ} differs)` : ''}`)
    t.equal(every.guard.quietBlocks, 0, `${c.name}: working every bound out skips none`)
    quietBlocks += lazy.guard.quietBlocks
    clearFrames += lazy.clearFrames
    if (c.caller !== undefined && lazy.guard.line.state === 'clear') talkedOver += lazy.verdicts.filter((v) => v.doubleTalk).length
  }
  // Four blocks a frame, one frame in six a full look; about half of the line noise's blocks are
  // within twice its estimate in every band (a 5 ms block of a band is a few degrees of freedom).
  t.ok(quietBlocks > clearFrames * 4 * 0.4, `${quietBlocks} blocks of ${clearFrames} frames judged on clear lines, without a bound`)
  t.ok(talkedOver > 50, `${talkedOver} frames of callers talking over us on clear lines still judged theirs`)
})
