import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { hear } from '../../lib/call/stream/hear.ts'
import type { InboundFrame } from '../../lib/media/stream/index.ts'
import { endpointingSchema } from '../../lib/media/stream/turn-taking.ts'
import type { Heard } from '../../lib/call/turn-media.ts'
import { endingStt, scriptedVad } from './hear-fakes.ts'

/**
 * Words that trail off ("Vorrei sapere il prezzo e") hold the turn open up to maxSilenceMs of
 * silence. When the event loop stalls (a GC, the CPU busy elsewhere) the datagrams wait in the
 * socket and, once it runs again, timers come before them: the pause looked over on the wall
 * clock although the caller's next words were already there. A CI run of the whole suite ended a
 * turn that way (test/conversation/turn-taking.spec.ts, "a pause after a trailing word"). The
 * verdict waits for the frames to catch up.
 */

const MAX_SILENCE_MS = 300

/** A listen with adaptive endpointing on `push`ed silent frames (the detector's verdicts scripted). */
function listening (script: { resumeAt?: number }, texts: readonly string[]): { heard: Promise<Heard>, push: () => void, subscribed: () => boolean } {
  const feed: { push?: (f: InboundFrame) => void } = {}
  let seq = 0
  const heard = hear({
    stt: endingStt(texts),
    sampleRate: 8000,
    newVad: () => scriptedVad(script),
    ring: () => [],
    subscribe (consumer) { feed.push = consumer; return () => { feed.push = undefined } },
    endpointing: endpointingSchema.parse({ adaptive: true, preemptive: false, minSilenceMs: 150, maxSilenceMs: MAX_SILENCE_MS }),
    preRollMs: 0,
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
  }, { noInputMs: 60_000, maxSpeechMs: 30_000, language: 'it-IT' }, undefined, new AbortController().signal)
  const push = (): void => { feed.push?.({ samples: new Int16Array(160), sampleRate: 8000, seq, mediaMs: seq * 20, receivedAt: Date.now(), vadSamples: undefined }); seq++ }
  return { heard, push, subscribed: () => feed.push !== undefined }
}

t.test('a trailing pause is not judged over while the frames are late: the words after it are the same turn', async (t) => {
  const script: { resumeAt?: number } = {}
  const { heard, push, subscribed } = listening(script, ['Vorrei sapere il prezzo e', 'Vorrei sapere il prezzo e gli orari.'])
  let over = false
  void heard.finally(() => { over = true })
  for (let i = 0; i < 8; i++) push() // speech, and its end: the pause after "e" begins
  // Frames on time for a moment, then none: the loop stalled with the caller's next words queued.
  // Two, not more: on a loaded CI machine each 20 ms sleep took far longer, the frames still came
  // within FRESH_FRAMES_MS of each other, and the pause rightly ran past maxSilenceMs before the
  // stall the test is about (a CI run of da1f044).
  for (let i = 0; i < 2; i++) { await sleep(20); push() }
  await sleep(MAX_SILENCE_MS + 150)
  t.notOk(over, 'the pause is not judged over while no frame has been read for longer than the frames take')
  script.resumeAt = 11 // the next frame: 8 + 2 before it
  for (let i = 0; i < 10 && subscribed(); i++) push() // the queued frames: the caller went on
  const h = await heard
  t.equal(h.kind, 'speech')
  t.equal(h.kind === 'speech' ? h.text : '', 'Vorrei sapere il prezzo e gli orari.', 'one turn, all of it')
})

t.test('a trailing pause with frames on time ends at maxSilenceMs', async (t) => {
  const { heard, push } = listening({}, ['Vorrei sapere il prezzo e'])
  for (let i = 0; i < 8; i++) push()
  const started = Date.now()
  let over = false
  void heard.finally(() => { over = true })
  // Silence keeps coming, as FreeSWITCH sends it; the turn ends without waiting for a stall to pass.
  while (!over && Date.now() - started < 3000) { await sleep(20); push() }
  const h = await heard
  t.equal(h.kind === 'speech' ? h.text : '', 'Vorrei sapere il prezzo e')
  t.ok(Date.now() - started < 1000, 'ended at the long pause, not held for a stalled stream')
})
