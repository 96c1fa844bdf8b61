import t, { type Test } from 'tap'
import { PhoneAgentError } from '../../lib/errors.ts'
import type { LlmDelta } from '../../lib/llm/types.ts'
import { outcomeOf } from '../../lib/providers/breaker.ts'
import { pendingProviderTimers } from '../../lib/providers/retry.ts'
import { FakeOpenAiServer, chatChunk } from '../fakes/openai-server.ts'
import { CHAT, MESSAGES, chains, metric, serverError, settlesAtOnce } from './chain-helpers.ts'
import { codeOf, collect, eventually, rejection } from './helpers.ts'

const ok = (text: string) => ({ kind: 'sse', chunks: [chatChunk({ content: text }), chatChunk({}, 'stop')] }) as const
const text = (deltas: LlmDelta[]): string => deltas.map((d) => d.type === 'text' ? d.text : '').join('')
const STATE = 'phone_agent_provider_breaker_state'

async function llmRig (t: Test, breaker: Record<string, unknown>) {
  const fake = await FakeOpenAiServer.start()
  t.teardown(() => fake.close())
  const rig = chains(t, { llm: { provider: 'openai', openai: { name: 'groq', baseUrl: fake.baseUrl } }, breaker })
  const llm = rig.providers.llm!
  const ask = (signal?: AbortSignal): Promise<LlmDelta[]> => collect(llm.stream(MESSAGES, { signal }))
  const chat = (): number => fake.requests.filter((r) => r.path === CHAT).length
  return { ...rig, fake, llm, ask, chat, breaker: llm.chain.members[0]!.breaker }
}

t.test('after N failures the provider is skipped at once; after the cool-down one probe closes it', async (t) => {
  const { fake, ask, chat, breaker, metrics, clock } = await llmRig(t, { failures: 3, coolDownMs: 10_000 })
  t.equal(await metric(metrics, STATE, { role: 'llm', provider: 'groq' }), 0, 'closed from the start: the series exists')

  for (let i = 0; i < 3; i++) {
    fake.reply(CHAT, serverError)
    t.equal(codeOf(await rejection(ask())), 'PROVIDER_UNAVAILABLE', `failure ${i + 1} is the provider's own error`)
    t.equal(breaker.state, i < 2 ? 'closed' : 'open')
  }
  t.equal(chat(), 3)
  t.equal(await metric(metrics, STATE, { role: 'llm', provider: 'groq' }), 1, 'metrics show it open')

  const skipped = await settlesAtOnce(ask())
  t.equal(codeOf(skipped.error), 'PROVIDER_UNAVAILABLE')
  t.match((skipped.error as Error).message, /llm: skipped after repeated failures \(groq\)/)
  t.ok(skipped.beforeIo, 'rejected before any I/O could happen: nothing was waited for')
  t.equal(chat(), 3, 'the provider saw no request')
  t.equal(await metric(metrics, 'phone_agent_provider_skipped_total', { role: 'llm', provider: 'groq' }), 1)

  clock.advance(9_999)
  await rejection(ask())
  t.equal(chat(), 3, 'still cooling down a millisecond before the end')

  clock.advance(1)
  fake.reply(CHAT, ok('Buongiorno'))
  t.equal(text(await ask()), 'Buongiorno', 'the probe went through')
  t.equal(chat(), 4)
  t.equal(breaker.state, 'closed')
  t.equal(await metric(metrics, STATE, { role: 'llm', provider: 'groq' }), 0, 'metrics show it closed again')
  t.equal(pendingProviderTimers(), 0, 'no deadline left behind')
})

t.test('a failed probe opens it for another cool-down; while a probe runs, others skip the provider', async (t) => {
  const { fake, ask, chat, breaker, metrics, clock } = await llmRig(t, { failures: 1, coolDownMs: 5_000 })
  fake.reply(CHAT, serverError)
  await rejection(ask())
  t.equal(breaker.state, 'open')

  clock.advance(5_000)
  fake.reply(CHAT, serverError)
  t.equal(codeOf(await rejection(ask())), 'PROVIDER_UNAVAILABLE')
  t.equal(chat(), 2, 'the probe reached the provider')
  t.equal(breaker.state, 'open', 'and failed: open again')
  clock.advance(4_999)
  await rejection(ask())
  t.equal(chat(), 2, 'the new cool-down counts from the failed probe')

  clock.advance(1)
  fake.reply(CHAT, { ...ok('Pronto'), firstDelayMs: 50 })
  const probe = ask()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(breaker.state, 'half_open')
  t.equal(await metric(metrics, STATE, { role: 'llm', provider: 'groq' }), 2, 'metrics show the probe')
  const during = await settlesAtOnce(ask())
  t.equal(codeOf(during.error), 'PROVIDER_UNAVAILABLE', 'a request during the probe does not queue behind it')
  t.equal(text(await probe), 'Pronto')
  t.equal(chat(), 3)
  t.equal(breaker.state, 'closed')
})

t.test('what counts: a caller\'s abort and a 400 do not; the caller\'s deadline and a reset mid-stream do', async (t) => {
  const { fake, llm, ask, chat, breaker, clock } = await llmRig(t, { failures: 1, coolDownMs: 1_000 })
  /** A request the provider never answers, aborted by the caller with `reason` once it has arrived. */
  const abortedWhileWaiting = async (reason: PhoneAgentError): Promise<unknown> => {
    fake.reply(CHAT, { kind: 'hang' })
    const before = chat()
    const caller = new AbortController()
    const pending = ask(caller.signal)
    t.ok(await eventually(() => chat() === before + 1), 'the request reached the provider')
    caller.abort(reason)
    return codeOf(await rejection(pending))
  }
  const closeAgain = async (): Promise<void> => {
    clock.advance(1_000)
    fake.reply(CHAT, ok('Eccomi'))
    t.equal(text(await ask()), 'Eccomi', 'a probe that succeeds')
    t.equal(breaker.state, 'closed')
  }

  t.equal(await abortedWhileWaiting(new PhoneAgentError('BARGE_IN', 'the caller barged in')), 'BARGE_IN')
  t.equal(breaker.state, 'closed', 'a barge-in says nothing about the provider')

  fake.reply(CHAT, { kind: 'json', status: 400, body: { error: { message: 'bad tool schema', type: 'invalid_request_error' } } })
  t.equal(codeOf(await rejection(ask())), 'PROVIDER_BAD_REQUEST')
  t.equal(breaker.state, 'closed', 'a 400 is our input, not an outage')

  t.equal(await abortedWhileWaiting(new PhoneAgentError('PROVIDER_TIMEOUT', 'no first token within 800 ms')), 'PROVIDER_TIMEOUT')
  t.equal(breaker.state, 'open', 'the turn\'s first-token deadline counts against the provider it waited on')
  await closeAgain()

  fake.reply(CHAT, { kind: 'sse', chunks: [chatChunk({ content: 'Allora' }), chatChunk({ content: ' vediamo' })], destroyAfter: 1, done: false })
  const partial: LlmDelta[] = []
  t.equal(codeOf(await rejection(collect(llm.stream(MESSAGES, {}), partial))), 'PROVIDER_UNAVAILABLE')
  t.equal(text(partial), 'Allora', 'the first token came before the reset')
  t.equal(breaker.state, 'open', 'a stream cut after its first token is a failure')

  clock.advance(1_000)
  t.equal(await abortedWhileWaiting(new PhoneAgentError('CALL_HANGUP', 'call hung up')), 'CALL_HANGUP')
  t.equal(breaker.state, 'open', 'a probe cut short before any output proves nothing: open again')
  await closeAgain()
})

t.test('outcomeOf: the table', async (t) => {
  const e = (code: ConstructorParameters<typeof PhoneAgentError>[0]): PhoneAgentError => new PhoneAgentError(code, code)
  const rows: Array<[unknown, boolean, boolean, string]> = [
    [undefined, false, false, 'success'],
    [e('PROVIDER_UNAVAILABLE'), false, false, 'failure'],
    [e('PROVIDER_UNAVAILABLE'), true, false, 'failure'],
    [e('PROVIDER_TIMEOUT'), false, false, 'failure'],
    [e('PROVIDER_RATE_LIMITED'), false, false, 'failure'],
    [e('PROVIDER_BAD_RESPONSE'), true, false, 'failure'],
    [e('PROVIDER_AUTH'), false, false, 'failure'],
    [e('PROVIDER_BAD_REQUEST'), false, false, 'success'],
    [e('BARGE_IN'), false, false, 'neutral'],
    [e('CALL_HANGUP'), false, false, 'neutral'],
    [e('TURN_OVER'), true, false, 'success'],
    [e('BARGE_IN'), false, true, 'failure'],
    [new Error('not ours'), false, false, 'neutral'],
  ]
  for (const [err, produced, probe, want] of rows) {
    t.equal(outcomeOf(err, produced, probe), want, `${err instanceof Error ? err.message : 'no error'}, produced ${produced}, probe ${probe}`)
  }
})
