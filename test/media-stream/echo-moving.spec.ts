import t from 'tap'
import { EchoGuard } from '../../lib/media/echo.ts'
import { Vad } from '../../lib/media/vad/vad.ts'
import type { CallerEcho } from '../../lib/simulator/types.ts'
import { RATE, judge, render } from './echo-lines.ts'

/**
 * An echo whose delay moves a little between our prompts. On FreeSWITCH each prompt's first frame
 * waits for the write timer's next tick, so one prompt's echo can come back up to ~22 ms later or
 * earlier than the one before (measured on a real switch); in a call the guard learns the line
 * from the greeting and must still explain the replies. A floor taken over three blocks was
 * dragged to nothing at a delay 10-20 ms off the echo's by every onset of our speech, and when
 * the echo moved there it went unexplained (the agent paused on its own echo, a conversation test
 * on the simulator's matrix write timer 3-10 times a call). Floors now take the least we sent
 * over SUSTAIN more blocks each side (lib/media/echo-ratios.ts).
 */

const line = (delayMs: number, seed: number): CallerEcho => ({ delayMs, attenuationDb: 8, filter: 'hybrid', noiseDb: -60, seed })

/** Speech starts of the barge-in VAD (60 ms of voice) behind the guard, on a line whose echo moves by `shiftMs` in the pause after our first stretch. */
function starts (delayMs: number, shiftMs: number): number[] {
  // Our first stretch ends at 3 s and its echo by ~3.2 s; the next starts at 3.6 s.
  const frames = render({ name: '', echo: line(delayMs, delayMs), then: { atMs: 3400, echo: line(delayMs + shiftMs, delayMs) }, stretches: 4 })
  const guard = new EchoGuard({ rate: RATE })
  const vad = new Vad({ rate: RATE, minSpeechMs: 60, endSilenceMs: 300 })
  const silence = new Int16Array(RATE / 50)
  const cursor = { at: 0 }
  const out: number[] = []
  for (let i = 0; ; i++) {
    const judged = judge(guard, frames, cursor)
    if (judged === undefined) break
    const s = vad.push(judged.verdict.echoOnly ? silence : judged.samples, i * 20)
    if (s?.type === 'speech-start') out.push(s.at)
  }
  return out
}

t.test('an echo 10-25 ms later or earlier from one prompt to the next never starts the barge-in VAD', async (t) => {
  // 30 ms either way starts it once at every delay tried: docs/echo.md's limit.
  for (const delayMs of [60, 120, 200]) {
    for (const shiftMs of [-25, -20, -15, -10, 10, 15, 20, 25]) {
      t.same(starts(delayMs, shiftMs), [], `echo at ${delayMs} ms, then ${shiftMs > 0 ? '+' : ''}${shiftMs} ms`)
    }
  }
})
