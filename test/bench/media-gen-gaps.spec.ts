import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { noCompiler, SILENCE, SOUND, startGenerator } from './media-gen-harness.ts'

/**
 * The generator's pacing figure leaves out the gaps of a quiet call (a keep-alive second, silence
 * at either end) and keeps every interval between two frames of sound. The bounds are generous:
 * the long silence is 1.5 s, the pause between sounds 0.3 s, and a loaded machine only adds to
 * either.
 */
t.test('media-gen counts a silent gap apart from pacing, and a pause between two frames of sound as pacing', { skip: noCompiler }, async (t) => {
  const gen = await startGenerator(t)
  if (gen === undefined) return
  const send = async (frame: Buffer, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      gen.send(frame)
      await sleep(20)
    }
  }
  await send(SILENCE, 5)
  await sleep(1500) // a cold call's keep-alive gap
  await send(SILENCE, 3)
  await send(SOUND, 3)
  await sleep(300) // a reply's audio late by 300 ms
  await send(SOUND, 3)
  await sleep(100)
  const v = await gen.report()
  t.ok((v.gaps ?? 0) >= 1, `the silent 1.5 s is counted as a gap (${v.gaps})`)
  t.ok((v.dev_max_ms ?? 0) >= 250, `the 0.3 s between two frames of sound is pacing (max ${v.dev_max_ms} ms)`)
  t.ok((v.dev_max_ms ?? Infinity) < 1000, `the silent gap is not (max ${v.dev_max_ms} ms)`)
  t.ok((v.intervals ?? 0) >= 10, `the other intervals are pacing (${v.intervals})`)
})
