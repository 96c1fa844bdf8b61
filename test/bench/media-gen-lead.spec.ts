import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { noCompiler, SILENCE, SOUND, startGenerator } from './media-gen-harness.ts'

/**
 * A reply starts with its first frame and `leadFrames` more at once (call-pacer.ts startLane):
 * that burst is counted apart from pacing (media-gen.c BURST_NS), a burst later in the reply (a
 * late wake-up catching up) is pacing. What is asserted does not depend on timing: the two
 * frames of a burst are sent in one task, back to back on loopback.
 */
t.test('media-gen counts a reply\'s first frame and its lead apart from pacing, and a burst inside a reply as pacing', { skip: noCompiler }, async (t) => {
  const gen = await startGenerator(t)
  if (gen === undefined) return
  const paced = async (frame: Buffer, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await sleep(20)
      gen.send(frame)
    }
  }
  await paced(SILENCE, 3) // idle silence
  await sleep(20)
  gen.send(SOUND) // the reply's first frame and its lead, in one task
  gen.send(SOUND)
  await paced(SOUND, 5)
  await sleep(50) // read before the report is asked (the generator reads once a 1 ms tick)
  const reply = await gen.report()
  t.equal(reply.starts, 1, 'the reply\'s first frame is counted as a start')
  t.equal(reply.leads, 1, 'the frame sent with it is its lead')
  t.ok((reply.all_max_ms ?? 0) >= 19, `counted in, the lead is a 20 ms deviation (all max ${reply.all_max_ms} ms)`)
  // (A loaded machine may hold a silence back past the gap bound: then it is a gap, not pacing.)
  t.equal((reply.intervals ?? 0) + (reply.gaps ?? 0), 7, `pacing keeps the other intervals: 2 between the silences, 5 in the reply (${reply.intervals} + ${reply.gaps} gaps)`)

  gen.send(SOUND) // a burst inside the reply: a late wake-up catching up
  gen.send(SOUND)
  await sleep(50)
  const burst = await gen.report()
  t.equal(burst.leads, 1, 'no second lead')
  t.ok((burst.dev_max_ms ?? 0) >= 19, `a burst inside a reply is pacing (max ${burst.dev_max_ms} ms)`)
})
