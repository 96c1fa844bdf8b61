import t from 'tap'
import { getEventListeners } from 'node:events'
import type { Speaker } from '../../lib/call/context.ts'
import { speakSentences } from '../../lib/call/sentence-pipeline.ts'
import { CallHangupError, isPhoneAgentError } from '../../lib/errors.ts'
import { pendingProviderTimers } from '../../lib/providers/retry.ts'

/**
 * The sentence pipeline's signals (issue 18: one link per reply and one per sentence instead of
 * a controller, any() and a deadline's timer signal each): what each sentence is handed still
 * ends with the reply after its first audio, a missed first-audio deadline is TTS_FAILED, and a
 * finished reply leaves nothing on the call's signal.
 */

const speaker = { render: async () => { throw new Error('not used') } } as unknown as Speaker

async function * lines (...texts: string[]): AsyncGenerator<string> {
  for (const text of texts) yield text
}

const listeners = (s: AbortSignal): number => getEventListeners(s, 'abort').length

t.test('a finished reply leaves no listener on the call\'s or the turn\'s signal', async t => {
  const call = new AbortController()
  const turn = new AbortController()
  const prepared: AbortSignal[] = []
  const result = await speakSentences<string>(lines('Uno.', 'Due.', 'Tre.'), {
    speaker,
    language: 'it-IT',
    voice: undefined,
    ttsFirstAudioMs: 60_000,
    prepare: async (text, signal) => { prepared.push(signal); return { prepared: text, billed: true } },
    play: async () => {},
  }, [call.signal, turn.signal])
  t.same({ sentences: result.sentences, heard: result.heard }, { sentences: 3, heard: 3 })
  t.equal(listeners(call.signal), 0)
  t.equal(listeners(turn.signal), 0)
  t.equal(pendingProviderTimers(), 0, 'no first-audio timer left')
  t.ok(prepared.every((s) => !s.aborted))
})

t.test('a sentence already started (past its first audio) is still aborted by the call\'s hang-up, with its reason', async t => {
  const call = new AbortController()
  let sentenceSignal: AbortSignal | undefined
  const hangup = new CallHangupError()
  const spoken = speakSentences<string>(lines('Una frase lunga.'), {
    speaker,
    language: 'it-IT',
    voice: undefined,
    ttsFirstAudioMs: 60_000,
    prepare: async (text, signal) => { sentenceSignal = signal; return { prepared: text, billed: true } },
    play: async (_i, _p, signal) => {
      // Hang up mid-sentence: the streamed synthesis (what prepare was given) must stop too.
      call.abort(hangup)
      if (signal.aborted) throw signal.reason
    },
  }, call.signal)
  const err = await spoken.then(() => undefined, (e: unknown) => e)
  t.equal(err, hangup)
  t.ok(sentenceSignal?.aborted, 'the sentence\'s own signal followed the call after its first audio')
  t.equal(sentenceSignal?.reason, hangup)
  t.equal(listeners(call.signal), 0)
})

t.test('no first audio within ttsFirstAudioMs: TTS_FAILED, and the synthesis is aborted with PROVIDER_TIMEOUT', async t => {
  const call = new AbortController()
  let sentenceSignal: AbortSignal | undefined
  const err = await speakSentences<string>(lines('Mai.'), {
    speaker,
    language: 'it-IT',
    voice: undefined,
    ttsFirstAudioMs: 5,
    prepare: async (_text, signal) => {
      sentenceSignal = signal
      return await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true }) })
    },
    play: async () => {},
  }, call.signal).then(() => undefined, (e: unknown) => e)
  t.ok(isPhoneAgentError(err) && err.code === 'TTS_FAILED' && /missed its deadline/.test(err.message), String(err))
  t.ok(isPhoneAgentError(sentenceSignal?.reason) && sentenceSignal.reason.code === 'PROVIDER_TIMEOUT')
  t.notOk(call.signal.aborted)
  t.equal(listeners(call.signal), 0)
  t.equal(pendingProviderTimers(), 0)
})
