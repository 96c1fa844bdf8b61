import t from 'tap'
import { Speculation } from '../../lib/call/conversation/speculation.ts'
import { PhoneAgentError } from '../../lib/errors.ts'
import type { ChatMessage, LlmDelta, LlmProvider } from '../../lib/llm/types.ts'
import type { TurnMedia } from '../../lib/call/turn-media.ts'

/** A preemptive reply on its own: held deltas, adoption only on the same prompt, what a discard bills. */

const messages: ChatMessage[] = [{ role: 'system', content: 'Sei un receptionist.' }, { role: 'user', content: 'Vorrei un appuntamento.' }]

/** An LLM whose stream yields `deltas`, then waits for `release` (or its signal) before ending. */
function llm (deltas: LlmDelta[], options: { fail?: Error, release?: Promise<void> } = {}): LlmProvider & { signals: AbortSignal[] } {
  const signals: AbortSignal[] = []
  return {
    name: 'fake',
    model: 'fake',
    signals,
    async * stream (_m, o) {
      if (o.signal) signals.push(o.signal)
      if (options.fail) throw options.fail
      for (const d of deltas) yield d
      if (options.release) {
        await new Promise<void>((resolve, reject) => {
          void options.release?.then(resolve)
          o.signal?.addEventListener('abort', () => { reject(o.signal?.reason) }, { once: true })
        })
      }
    },
  }
}

function media (): TurnMedia & { ahead: string[] } {
  const ahead: string[] = []
  return {
    ahead,
    listen: async () => { throw new Error('not used') },
    speak: async () => { throw new Error('not used') },
    prepareAhead: (text) => { ahead.push(text) },
  }
}

const settle = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

t.test('adopted on the same prompt: the held deltas, then the live ones; the first sentence synthesised ahead', async (t) => {
  let release!: () => void
  const provider = llm([{ type: 'text', text: 'Certo. ' }, { type: 'text', text: 'Per quando?' }], { release: new Promise((resolve) => { release = resolve }) })
  const m = media()
  const s = new Speculation({ llm: provider, tools: [], messages, media: m, language: 'it-IT', voice: undefined, sentenceMaxChars: 200, signal: new AbortController().signal })
  await settle()
  t.same(m.ahead, ['Certo.'], 'the first sentence, once split')
  const deltas = s.adopt(structuredClone(messages), new AbortController().signal)
  t.ok(deltas !== undefined)
  const seen: LlmDelta[] = []
  const done = (async () => { for await (const d of deltas!) seen.push(d) })()
  await settle()
  t.equal(seen.length, 2, 'the held deltas at once')
  release()
  await done
  t.equal(s.discard(new Error('late')), undefined, 'an adopted reply is not discarded')
})

t.test('another prompt is not adopted; a discard aborts the request and bills what it used', async (t) => {
  const provider = llm([{ type: 'text', text: 'Certo, ' }], { release: new Promise(() => {}) })
  const s = new Speculation({ llm: provider, tools: [], messages, media: media(), language: 'it-IT', voice: undefined, sentenceMaxChars: 200, signal: new AbortController().signal })
  await settle()
  t.equal(s.adopt([...messages, { role: 'user', content: 'per domani.' }], new AbortController().signal), undefined, 'a longer prompt: not this reply')
  const cost = s.discard(new PhoneAgentError('TURN_OVER', 'the caller went on'))
  t.ok(provider.signals[0]?.aborted, 'the request was aborted')
  t.equal(cost?.llmInputTokens, Math.ceil(JSON.stringify(messages).length / 4), 'the prompt, estimated (no usage report yet)')
  t.equal(cost?.llmOutputTokens, 2, 'and what it wrote')
  t.equal(cost?.ttsCharacters, 0, 'no sentence was complete: nothing synthesised')
  t.equal(s.discard(new Error('again')), undefined, 'discarded once')
})

t.test('the usage report, when it came, is what a discard bills; a request that failed bills nothing', async (t) => {
  const reported = new Speculation({ llm: llm([{ type: 'text', text: 'Sì.' }, { type: 'usage', inputTokens: 321, outputTokens: 3 }]), tools: [], messages, media: media(), language: 'it-IT', voice: undefined, sentenceMaxChars: 200, signal: new AbortController().signal })
  await settle()
  t.same(reported.discard(new Error('went on')), { llmInputTokens: 321, llmOutputTokens: 3, ttsCharacters: 3 })
  const failed = new Speculation({ llm: llm([], { fail: new PhoneAgentError('PROVIDER_UNAVAILABLE', 'HTTP 500') }), tools: [], messages, media: media(), language: 'it-IT', voice: undefined, sentenceMaxChars: 200, signal: new AbortController().signal })
  await settle()
  t.same(failed.discard(new Error('went on')), { llmInputTokens: 0, llmOutputTokens: 0, ttsCharacters: 0 })
})

t.test('the turn\'s signal ends it: an adopted stream fails with the abort', async (t) => {
  const turn = new AbortController()
  const s = new Speculation({ llm: llm([{ type: 'text', text: 'Certo' }], { release: new Promise(() => {}) }), tools: [], messages, media: media(), language: 'it-IT', voice: undefined, sentenceMaxChars: 200, signal: turn.signal })
  const deltas = s.adopt(messages, turn.signal)!
  const iterator = deltas[Symbol.asyncIterator]()
  t.equal((await iterator.next()).done, false)
  turn.abort(new PhoneAgentError('BARGE_IN', 'the caller barged in'))
  await t.rejects(iterator.next(), { code: 'BARGE_IN' })
})

t.test('a sentence followed by a tool call is synthesised ahead without waiting for the stream to end', async (t) => {
  const m = media()
  const s = new Speculation({
    llm: llm([{ type: 'text', text: 'La passo alle vendite.' }, { type: 'tool_call', id: 'c1', name: 'transfer_call', arguments: '{"target":"sales"}' }], { release: new Promise(() => {}) }),
    tools: [], messages, media: m, language: 'it-IT', voice: undefined, sentenceMaxChars: 200, signal: new AbortController().signal,
  })
  await settle()
  t.same(m.ahead, ['La passo alle vendite.'], 'split at the tool call, the stream still open')
  s.discard(new Error('done'))
})

t.test('a sentence before a tool call is synthesised ahead at text_end, while the call is still being written', async (t) => {
  const m = media()
  const s = new Speculation({
    llm: llm([{ type: 'text', text: 'La passo alle vendite.' }, { type: 'text_end' }], { release: new Promise(() => {}) }),
    tools: [], messages, media: m, language: 'it-IT', voice: undefined, sentenceMaxChars: 200, signal: new AbortController().signal,
  })
  await settle()
  t.same(m.ahead, ['La passo alle vendite.'], 'no tool call yet, the sentence is on its way')
  s.discard(new Error('done'))
})
