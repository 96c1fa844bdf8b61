import t from 'tap'
import { ConversationHistory, INTERRUPTED_TOOL_RESULT } from '../../lib/agent/history.ts'

function clock (start = Date.UTC(2025, 0, 13, 9, 0, 0)): { now: () => number, advance: (ms: number) => void } {
  let now = start
  return { now: () => now, advance: (ms) => { now += ms } }
}

t.test('a reply heard to the end', async (t) => {
  const c = clock()
  const h = new ConversationHistory({ system: 'You are a receptionist.', now: c.now })
  const greeting = h.beginAssistant()
  const a = greeting.say('Good morning.')
  const b = greeting.say('How can I help?')
  c.advance(1000)
  greeting.spoken(a)
  greeting.spoken(b)
  greeting.complete()
  c.advance(2000)
  h.addUser('I would like to speak to Marco.')

  t.strictSame(h.messages(), [
    { role: 'system', content: 'You are a receptionist.' },
    { role: 'assistant', content: 'Good morning. How can I help?' },
    { role: 'user', content: 'I would like to speak to Marco.' },
  ])
  t.strictSame(h.transcript(), [
    { at: '2025-01-13T09:00:00.000Z', endedAt: '2025-01-13T09:00:01.000Z', role: 'assistant', text: 'Good morning. How can I help?', interrupted: false },
    { at: '2025-01-13T09:00:03.000Z', role: 'user', text: 'I would like to speak to Marco.', interrupted: false },
  ])
})

t.test('barge-in keeps only what was heard and marks it interrupted', async (t) => {
  const c = clock()
  const h = new ConversationHistory({ system: 'S', now: c.now })
  h.addUser('What are your opening hours?')
  const turn = h.beginAssistant()
  const ids = ['We are open Monday to Friday.', 'From nine to six.', 'On Saturday we open in the morning.'].map((s) => turn.say(s))
  turn.spoken(ids[0] ?? -1)
  c.advance(1500)
  turn.interrupt('From nine')
  // Audio that finishes after the barge-in must not change what was recorded.
  turn.spoken(ids[1] ?? -1)
  turn.say('Late sentence.')
  turn.complete()
  t.equal(turn.committed, true)

  t.strictSame(h.messages().at(-1), { role: 'assistant', content: 'We are open Monday to Friday. From nine' })
  t.strictSame(h.transcript().at(-1), {
    at: '2025-01-13T09:00:00.000Z', endedAt: '2025-01-13T09:00:01.500Z', role: 'assistant', text: 'We are open Monday to Friday. From nine', interrupted: true,
  })
})

t.test('barge-in before anything was heard leaves no assistant message, but the transcript says so', async (t) => {
  const h = new ConversationHistory({ system: 'S', now: clock().now })
  h.addUser('Hello?')
  const turn = h.beginAssistant()
  turn.say('Hello, this is ACME.')
  turn.interrupt()
  t.strictSame(h.messages(), [{ role: 'system', content: 'S' }, { role: 'user', content: 'Hello?' }])
  t.match(h.transcript().at(-1), { role: 'assistant', text: '', interrupted: true })
})

t.test('interrupted after everything queued was heard: text kept whole, still marked interrupted', async (t) => {
  const h = new ConversationHistory({ system: 'S', now: clock().now })
  const turn = h.beginAssistant()
  turn.spoken(turn.say('One moment.'))
  turn.interrupt()
  t.strictSame(h.messages().at(-1), { role: 'assistant', content: 'One moment.' })
  t.match(h.transcript().at(-1), { text: 'One moment.', interrupted: true })
})

t.test('tool calls and results in OpenAI format, text after the results in a new message', async (t) => {
  const c = clock()
  const h = new ConversationHistory({ system: 'S', now: c.now })
  h.addUser('Is Marco there?')
  const turn = h.beginAssistant()
  turn.spoken(turn.say('Let me check.'))
  turn.toolCall({ id: 'call_1', name: 'lookup_contact', arguments: '{"number":"+390212345678"}' })
  c.advance(300)
  turn.toolResult('call_1', '{"name":"Marco Rossi"}')
  turn.spoken(turn.say('Marco is available.'))
  turn.complete()

  t.strictSame(h.messages().slice(1), [
    { role: 'user', content: 'Is Marco there?' },
    { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup_contact', arguments: '{"number":"+390212345678"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '{"name":"Marco Rossi"}' },
    { role: 'assistant', content: 'Marco is available.' },
  ])
  t.match(h.transcript().slice(1), [
    { role: 'assistant', text: 'Let me check.', interrupted: false },
    { role: 'tool_call', toolName: 'lookup_contact', toolCallId: 'call_1', text: '{"number":"+390212345678"}', at: '2025-01-13T09:00:00.000Z' },
    { role: 'tool_result', toolName: 'lookup_contact', text: '{"name":"Marco Rossi"}', interrupted: false },
    { role: 'assistant', text: 'Marco is available.', interrupted: false },
  ])
})

t.test('a tool call without a result gets a synthetic one (the API rejects a dangling call)', async (t) => {
  const h = new ConversationHistory({ system: 'S', now: clock().now })
  h.addUser('Put me through to sales.')
  const turn = h.beginAssistant()
  turn.say('Transferring you now.')
  turn.toolCall({ id: 'call_9', name: 'transfer_call', arguments: '{"target":"sales"}' })
  turn.interrupt('Transferring')
  t.strictSame(h.messages().slice(2), [
    { role: 'assistant', content: 'Transferring', tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'transfer_call', arguments: '{"target":"sales"}' } }] },
    { role: 'tool', tool_call_id: 'call_9', content: INTERRUPTED_TOOL_RESULT },
  ])
  t.match(h.transcript().at(-1), { role: 'tool_result', interrupted: true })
})

t.test('a tool call with no text before it has null content', async (t) => {
  const h = new ConversationHistory({ system: 'S', now: clock().now })
  h.addUser('Bye')
  const turn = h.beginAssistant()
  turn.toolCall({ id: 'c', name: 'end_call', arguments: '{"reason":"caller_request"}' })
  turn.toolResult('c', '{"ok":true}')
  turn.complete()
  t.strictSame(h.messages()[2], { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'end_call', arguments: '{"reason":"caller_request"}' } }] })
})

t.test('the next user message closes an open reply as heard so far', async (t) => {
  const h = new ConversationHistory({ system: 'S', now: clock().now })
  const first = h.beginAssistant()
  first.spoken(first.say('Hello.'))
  first.say('Never heard.')
  h.addUser('Hi')
  t.equal(first.committed, true)
  t.strictSame(h.messages().slice(1), [{ role: 'assistant', content: 'Hello.' }, { role: 'user', content: 'Hi' }])
  t.match(h.transcript()[0], { interrupted: true })

  const second = h.beginAssistant()
  second.spoken(second.say('All heard.'))
  const third = h.beginAssistant()
  t.equal(second.committed, true)
  t.match(h.transcript().at(-1), { text: 'All heard.', interrupted: false }, 'fully heard replies are complete')
  third.complete()
})

t.test('prompt bound: oldest whole turns go first, system and latest turn always stay', async (t) => {
  const h = new ConversationHistory({ system: 'SYSTEM', maxChars: 6 + 60 })
  for (let i = 0; i < 5; i++) {
    h.addUser(`question ${i} `.padEnd(20, '.'))
    const turn = h.beginAssistant()
    if (i === 3) {
      turn.toolCall({ id: `c${i}`, name: 'lookup_contact', arguments: '{}' })
      turn.toolResult(`c${i}`, 'r')
    }
    turn.spoken(turn.say(`answer ${i}`.padEnd(20, '.')))
    turn.complete()
  }
  const messages = h.messages()
  t.strictSame(messages[0], { role: 'system', content: 'SYSTEM' })
  t.equal(messages[1]?.role, 'user', 'the kept history starts at a user message, never at a tool result')
  const users = messages.filter((m) => m.role === 'user').map((m) => m.content)
  t.strictSame(users, ['question 4 '.padEnd(20, '.')], 'only the last turn fits')
  const total = messages.reduce((n, m) => n + (typeof m.content === 'string' ? m.content.length : 0), 0)
  t.ok(total <= 66, `prompt of ${total} characters`)

  const two = new ConversationHistory({ system: 'SYSTEM', maxChars: 6 + 40 + 57 })
  for (let i = 0; i < 5; i++) {
    two.addUser(`question ${i} `.padEnd(20, '.'))
    const turn = two.beginAssistant()
    if (i === 3) {
      // 14 + 2 characters of call and 1 of result: this turn weighs 57.
      turn.toolCall({ id: `c${i}`, name: 'lookup_contact', arguments: '{}' })
      turn.toolResult(`c${i}`, 'r')
    }
    turn.spoken(turn.say(`answer ${i}`.padEnd(20, '.')))
    turn.complete()
  }
  t.strictSame(two.messages().map((m) => m.role), ['system', 'user', 'assistant', 'tool', 'assistant', 'user', 'assistant'],
    'two turns fit, the tool call with its result')

  const roomy = new ConversationHistory({ system: 'S', maxChars: 10 })
  roomy.addUser('a very long question that alone exceeds the bound')
  t.equal(roomy.messages().length, 2, 'the latest turn is kept even when it alone is too big')
  t.equal(h.transcript().length, 5 * 2 + 2, 'the transcript keeps everything')
})

t.test('setSystem replaces the instructions', async (t) => {
  const h = new ConversationHistory({ system: 'day' })
  h.setSystem('night')
  t.strictSame(h.messages(), [{ role: 'system', content: 'night' }])
})
