import t from 'tap'
import { END_REASONS, LIMITS, toolDefinitions, validateToolCall, type ToolContext } from '../../lib/agent/tools.ts'

const context: ToolContext = {
  targets: ['reception', 'sales', 'voicemail'],
  defaultCountry: 'IT',
  targetDescriptions: { sales: 'new orders and quotes' },
}

t.test('tool definitions in OpenAI format, targets as an enum of names', async (t) => {
  const defs = toolDefinitions(context)
  t.strictSame(defs.map((d) => d.function.name), ['transfer_call', 'end_call', 'take_message', 'lookup_contact'])
  const transfer = defs[0]
  t.equal(transfer?.type, 'function')
  t.strictSame(transfer?.function.parameters, {
    type: 'object',
    properties: { target: { type: 'string', enum: ['reception', 'sales', 'voicemail'], description: 'One of the target names, exactly as listed.' } },
    required: ['target'],
    additionalProperties: false,
  })
  t.match(transfer?.function.description, /Targets: reception; sales: new orders and quotes; voicemail\./)
  for (const d of defs) {
    const p = d.function.parameters as { required: string[], properties: object, additionalProperties: boolean }
    t.strictSame(p.required, Object.keys(p.properties), `${d.function.name}: every property required`)
    t.equal(p.additionalProperties, false, `${d.function.name}: no extra properties`)
  }
  t.strictSame((defs[1]?.function.parameters as { properties: { reason: { enum: string[] } } }).properties.reason.enum, [...END_REASONS])
  t.same(JSON.parse(JSON.stringify(defs)), defs, 'plain JSON')
})

t.test('transfer_call is not offered without targets; enabled selects tools', async (t) => {
  t.strictSame(toolDefinitions({ targets: [], defaultCountry: 'IT' }).map((d) => d.function.name), ['end_call', 'take_message', 'lookup_contact'])
  t.strictSame(toolDefinitions({ ...context, enabled: ['end_call'] }).map((d) => d.function.name), ['end_call'])
  t.match(validateToolCall('transfer_call', '{"target":"sales"}', { targets: [], defaultCountry: 'IT' }), { ok: false, code: 'unknown_tool' })
  t.match(validateToolCall('take_message', '{}', { ...context, enabled: ['end_call'] }), { ok: false, code: 'unknown_tool', error: 'unknown tool; available: end_call' })
})

t.test('valid calls come back typed and normalised', async (t) => {
  t.strictSame(validateToolCall('transfer_call', '{"target":"sales"}', context), { ok: true, call: { name: 'transfer_call', args: { target: 'sales' } } })
  t.strictSame(validateToolCall('end_call', '{"reason":"resolved"}', context), { ok: true, call: { name: 'end_call', args: { reason: 'resolved' } } })
  t.strictSame(validateToolCall('take_message', JSON.stringify({ name: ' Marco Rossi ', number: '02 1234 5678', message: 'Call me back\nafter 3pm.' }), context),
    { ok: true, call: { name: 'take_message', args: { name: 'Marco Rossi', number: '+390212345678', message: 'Call me back\nafter 3pm.' } } })
  t.strictSame(validateToolCall('lookup_contact', '{"number":"0039 02 1234 5678"}', context), { ok: true, call: { name: 'lookup_contact', args: { number: '+390212345678' } } })
})

t.test('prompt injection in transfer targets is refused', async (t) => {
  const attempts = [
    '+39899123456', // premium-rate number
    '0039899123456',
    '899 123 456',
    'sofia/gateway/x/0900123456',
    'user/1000@example.com',
    'reception; bridge sofia/gateway/x/0900',
    'reception,sales',
    'reception\nbridge',
    'reception\u0000',
    'rесeption', // Cyrillic е and с
    'ｒｅｃｅｐｔｉｏｎ', // full-width
    'reception\u200b', // zero-width space
    '\u202ereception', // right-to-left override
    'Reception',
    '${reception}',
    '',
    'voicemail '.repeat(10),
  ]
  for (const target of attempts) {
    const r = validateToolCall('transfer_call', JSON.stringify({ target }), context)
    t.equal(r.ok, false, `refused ${JSON.stringify(target)}`)
    if (!r.ok) {
      t.notOk(target.trim() !== '' && r.error.includes(target.trim()), 'the error never echoes the value')
    }
  }
  const numeric = validateToolCall('transfer_call', '{"target":"+39899123456"}', context)
  t.strictSame(numeric, { ok: false, code: 'unknown_target', error: 'transfer_call: targets are names, never phone numbers or dial strings; choose one of: reception, sales, voicemail' })
  const unknown = validateToolCall('transfer_call', '{"target":"ceo"}', context)
  t.strictSame(unknown, { ok: false, code: 'unknown_target', error: 'transfer_call: no such target; choose one of: reception, sales, voicemail' })
})

t.test('structure: unknown tools, bad JSON, extra, missing and wrong-typed arguments', async (t) => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['dial', '{"number":"+39899123456"}', 'unknown_tool', /^unknown tool; available: transfer_call, end_call, take_message, lookup_contact$/],
    ['__proto__', '{}', 'unknown_tool', /unknown tool/],
    ['transfer_call', '{"target":', 'malformed_json', /not valid JSON/],
    ['transfer_call', '["sales"]', 'malformed_json', /must be a JSON object/],
    ['transfer_call', '"sales"', 'malformed_json', /must be a JSON object/],
    ['transfer_call', 'null', 'malformed_json', /must be a JSON object/],
    ['transfer_call', `{"target":"sales","pad":"${'x'.repeat(LIMITS.json)}"}`, 'malformed_json', /too long/],
    ['transfer_call', '{"target":"sales","dialString":"sofia/gateway/x/0900"}', 'invalid_arguments', /unexpected argument; expected only: target/],
    ['transfer_call', '{"target":"sales","__proto__":{"admin":true}}', 'invalid_arguments', /unexpected argument/],
    ['transfer_call', '{}', 'invalid_arguments', /target is required/],
    ['transfer_call', '', 'invalid_arguments', /target is required/],
    ['transfer_call', '{"target":["sales"]}', 'invalid_arguments', /must be a string/],
    ['transfer_call', '{"target":{"toString":"sales"}}', 'invalid_arguments', /must be a string/],
    ['end_call', '{"reason":"because I said so"}', 'invalid_arguments', /reason must be one of: resolved, caller_request/],
    ['take_message', '{"name":"Marco","number":"+390212345678"}', 'invalid_arguments', /message is required/],
    ['take_message', '{"name":"","number":"+390212345678","message":"hi"}', 'invalid_arguments', /name must not be empty/],
    ['take_message', JSON.stringify({ name: 'x'.repeat(101), number: '+390212345678', message: 'hi' }), 'invalid_arguments', /name is longer than 100/],
    ['take_message', JSON.stringify({ name: 'Marco', number: '+390212345678', message: 'x'.repeat(1001) }), 'invalid_arguments', /message is longer than 1000/],
    ['take_message', JSON.stringify({ name: 'Mar\u001bco', number: '+390212345678', message: 'hi' }), 'invalid_arguments', /name contains control characters/],
    ['take_message', JSON.stringify({ name: 'Marco', number: '+390212345678', message: 'hi\u0007' }), 'invalid_arguments', /message contains control characters/],
    ['take_message', JSON.stringify({ name: 'Marco', number: 'call me maybe', message: 'hi' }), 'invalid_arguments', /number is not a phone number/],
    ['take_message', JSON.stringify({ name: 'Marco', number: '+390212345678\r\nX-Inject: 1', message: 'hi' }), 'invalid_arguments', /control characters/],
    ['lookup_contact', '{"number":"sip:evil@attacker"}', 'invalid_arguments', /not a phone number/],
    ['lookup_contact', '{"number":12345678}', 'invalid_arguments', /must be a string/],
  ]
  for (const [name, args, code, message] of cases) {
    const r = validateToolCall(name, args, context)
    t.equal(r.ok, false, `${name} ${args.slice(0, 60)}`)
    if (!r.ok) {
      t.equal(r.code, code, `code ${code}`)
      t.match(r.error, message)
    }
  }
})
