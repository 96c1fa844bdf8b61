import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { hear } from '../../lib/call/stream/hear.ts'
import type { InboundFrame } from '../../lib/media/stream/index.ts'
import { endpointingSchema } from '../../lib/media/stream/turn-taking.ts'
import type { VadEvent, VoiceDetector } from '../../lib/media/vad/index.ts'
import type { SttProvider, SttSession, SttStreamOptions } from '../../lib/speech/stt/types.ts'

/**
 * Words that trail off ("Vorrei sapere il prezzo e") hold the turn open up to maxSilenceMs of
 * silence. When the event loop stalls (a GC, the CPU busy elsewhere) the datagrams wait in the
 * socket and, once it runs again, timers come before them: the pause looked over on the wall
 * clock although the caller's next words were already there. A CI run of the whole suite ended a
 * turn that way (test/conversation/turn-taking.spec.ts, "a pause after a trailing word"). The
 * verdict waits for the frames to catch up.
 */

const MAX_SILENCE_MS = 300

/** Speech from the 3rd frame, its end at the 8th; speech again at the first frame after `resume`, its end 5 frames later. */
function scriptedVad (script: { resumeAt?: number }): VoiceDetector {
  let n = 0
  return {
    speaking: false,
    speechEndSoFar: undefined,
    lastFrame: undefined,
    push (_samples, at): VadEvent | undefined {
      n++
      if (n === 3 || n === script.resumeAt) return { type: 'speech-start', at: at - 40, detectedAt: at + 20 } as VadEvent
      if (n === 8 || (script.resumeAt !== undefined && n === script.resumeAt + 5)) return { type: 'speech-end', startAt: 0, endAt: at - 40, detectedAt: at + 20 } as unknown as VadEvent
      return undefined
    },
    close () {},
  }
}

/** The n-th session hears `texts[n]` once it ends. */
function stt (texts: readonly string[]): SttProvider {
  let sessions = 0
  return {
    name: 'fake',
    transcribe: async () => { throw new Error('not used') },
    stream (options: SttStreamOptions): SttSession {
      const text = texts[Math.min(sessions++, texts.length - 1)] as string
      let ended!: () => void
      const done = new Promise<void>((resolve) => { ended = resolve })
      return {
        write () {},
        end () { ended() },
        results: (async function * () {
          await new Promise<void>((resolve, reject) => {
            void done.then(resolve)
            options.signal?.addEventListener('abort', () => { reject(options.signal?.reason) }, { once: true })
          })
          yield { text, isFinal: true, confidence: 0.9 }
        })(),
      }
    },
  }
}

t.test('a trailing pause is not judged over while the frames are late: the words after it are the same turn', async (t) => {
  const script: { resumeAt?: number } = {}
  const feed: { push?: (f: InboundFrame) => void } = {}
  let seq = 0
  const push = (): void => { feed.push?.({ samples: new Int16Array(160), sampleRate: 8000, seq, mediaMs: seq * 20, receivedAt: Date.now(), vadSamples: undefined }); seq++ }
  const heard = hear({
    stt: stt(['Vorrei sapere il prezzo e', 'Vorrei sapere il prezzo e gli orari.']),
    sampleRate: 8000,
    newVad: () => scriptedVad(script),
    ring: () => [],
    subscribe (consumer) { feed.push = consumer; return () => { feed.push = undefined } },
    endpointing: endpointingSchema.parse({ adaptive: true, preemptive: false, minSilenceMs: 150, maxSilenceMs: MAX_SILENCE_MS }),
    preRollMs: 0,
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
  }, { noInputMs: 60_000, maxSpeechMs: 30_000, language: 'it-IT' }, undefined, new AbortController().signal)
  let over = false
  void heard.finally(() => { over = true })
  for (let i = 0; i < 8; i++) push() // speech, and its end: the pause after "e" begins
  // Frames on time for a while, then none: the loop stalled with the caller's next words queued.
  for (let i = 0; i < 5; i++) { await sleep(20); push() }
  await sleep(MAX_SILENCE_MS + 150)
  t.notOk(over, 'the pause is not judged over while no frame has been read for longer than the frames take')
  script.resumeAt = seq + 1
  for (let i = 0; i < 10 && feed.push !== undefined; i++) push() // the queued frames: the caller went on
  const h = await heard
  t.equal(h.kind, 'speech')
  t.equal(h.kind === 'speech' ? h.text : '', 'Vorrei sapere il prezzo e gli orari.', 'one turn, all of it')
})

t.test('a trailing pause with frames on time ends at maxSilenceMs', async (t) => {
  const feed: { push?: (f: InboundFrame) => void } = {}
  let seq = 0
  const push = (): void => { feed.push?.({ samples: new Int16Array(160), sampleRate: 8000, seq, mediaMs: seq * 20, receivedAt: Date.now(), vadSamples: undefined }); seq++ }
  const heard = hear({
    stt: stt(['Vorrei sapere il prezzo e']),
    sampleRate: 8000,
    newVad: () => scriptedVad({}),
    ring: () => [],
    subscribe (consumer) { feed.push = consumer; return () => { feed.push = undefined } },
    endpointing: endpointingSchema.parse({ adaptive: true, preemptive: false, minSilenceMs: 150, maxSilenceMs: MAX_SILENCE_MS }),
    preRollMs: 0,
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
  }, { noInputMs: 60_000, maxSpeechMs: 30_000, language: 'it-IT' }, undefined, new AbortController().signal)
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
