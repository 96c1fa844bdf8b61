import t from 'tap'
import { getEventListeners } from 'node:events'
import { pino } from 'pino'
import { hear, type HearDeps } from '../../lib/call/stream/hear.ts'
import { CallHangupError } from '../../lib/errors.ts'
import type { Heard } from '../../lib/call/turn-media.ts'
import type { InboundFrame } from '../../lib/media/stream/index.ts'
import { endpointingSchema } from '../../lib/media/stream/turn-taking.ts'
import type { SttProvider } from '../../lib/speech/stt/types.ts'
import { endingStt, scriptedVad } from './hear-fakes.ts'

/**
 * hear.ts makes no signal of its own (issue 18): it watches the call's signal and the listen's
 * apart, and the recogniser session follows both. A listen that ends, however it ends, must
 * leave nothing on the call's signal, which lives for the whole call (a listener per turn would
 * pile up there), and a hang-up mid-utterance must still reach the recogniser with its reason.
 */

const listeners = (s: AbortSignal): number => getEventListeners(s, 'abort').length

function deps (call: AbortSignal, stt: SttProvider, feed: { push?: (f: InboundFrame) => void }): HearDeps {
  return {
    stt,
    sampleRate: 8000,
    newVad: () => scriptedVad(),
    ring: () => [],
    subscribe (consumer) { feed.push = consumer; return () => { feed.push = undefined } },
    endpointing: endpointingSchema.parse({ adaptive: false, preemptive: false }),
    preRollMs: 0,
    log: pino({ level: 'silent' }),
    signal: call,
  }
}

const frame = (i: number): InboundFrame => ({ samples: new Int16Array(160), sampleRate: 8000, seq: i, mediaMs: i * 20, receivedAt: Date.now(), vadSamples: undefined })
const options = { noInputMs: 60_000, maxSpeechMs: 30_000, language: 'it-IT' }

/** A listen under a call's and a turn's signal; `feed.push` hands it frames while it is subscribed. */
function listening (): { call: AbortController, turn: AbortController, sessions: AbortSignal[], feed: { push?: (f: InboundFrame) => void }, heard: Promise<Heard> } {
  const call = new AbortController()
  const turn = new AbortController()
  const sessions: AbortSignal[] = []
  const feed: { push?: (f: InboundFrame) => void } = {}
  const heard = hear(deps(call.signal, endingStt(['Buongiorno.'], sessions), feed), options, undefined, turn.signal)
  return { call, turn, sessions, feed, heard }
}

t.test('a listen that heard an utterance leaves no listener on the call\'s or the turn\'s signal', async t => {
  const { call, turn, sessions, feed, heard } = listening()
  for (let i = 0; i < 10 && feed.push !== undefined; i++) feed.push(frame(i))
  const h = await heard
  t.equal(h.kind, 'speech')
  t.equal(sessions.length, 1)
  t.equal(listeners(call.signal), 0, 'the call\'s signal: nothing left')
  t.equal(listeners(turn.signal), 0)
  t.ok(sessions[0]?.aborted, 'the finished session is let go of (TURN_OVER)')
})

t.test('a hang-up mid-utterance rejects the listen and aborts the recogniser with the hang-up', async t => {
  const { call, turn, sessions, feed, heard } = listening()
  for (let i = 0; i < 5; i++) feed.push?.(frame(i))
  t.equal(sessions.length, 1, 'the utterance is being recognised')
  const hangup = new CallHangupError()
  call.abort(hangup)
  const err = await heard.then(() => undefined, (e: unknown) => e)
  t.equal(err, hangup)
  t.equal(sessions[0]?.reason, hangup, 'the recogniser saw the call\'s own reason')
  t.equal(listeners(turn.signal), 0)
})

t.test('the turn\'s abort (barge-in, operator key) ends the listen with the turn\'s reason', async t => {
  const { call, turn, feed, heard } = listening()
  const why = new Error('operator key')
  turn.abort(why)
  const err = await heard.then(() => undefined, (e: unknown) => e)
  t.equal((err as { cause?: unknown }).cause, why, 'wrapped as CALL_ABORTED with the reason as cause (abortReason)')
  t.equal(listeners(call.signal), 0)
  t.equal(feed.push, undefined, 'unsubscribed')
})
