import t from 'tap'
import { readFile } from 'node:fs/promises'
import { ERROR_CODES, PhoneAgentError, isPhoneAgentError, routineAbort } from '../../lib/errors.ts'

t.test('docs/scripts.md lists every error code with its class, and nothing else', async (t) => {
  const doc = await readFile(new URL('../../docs/scripts.md', import.meta.url), 'utf8')
  const section = doc.slice(doc.indexOf('## Error codes'))
  const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| (transient|permanent) \|/gm)].map((m) => [m[1], m[2]])
  const expected = Object.entries(ERROR_CODES).map(([code, spec]) => [code, spec.class])
  t.same(rows.sort(), expected.sort())
})

t.test('errors carry code, class and cause', async (t) => {
  const cause = new Error('ECONNRESET')
  const e = new PhoneAgentError('PROVIDER_UNAVAILABLE', 'provider down', { cause })
  t.equal(e.code, 'PROVIDER_UNAVAILABLE')
  t.equal(e.transient, true)
  t.equal(e.cause, cause)
  t.equal(new PhoneAgentError('PROVIDER_AUTH', 'bad key').transient, false)
})

t.test('a routine abort is a typed error without a stack trace, and leaves the stack limit as it was', async (t) => {
  const before = Error.stackTraceLimit
  const e = routineAbort('TURN_OVER', 'turn over')
  t.ok(isPhoneAgentError(e))
  t.ok(e instanceof PhoneAgentError)
  t.equal(e.code, 'TURN_OVER')
  t.equal(e.message, 'turn over')
  t.equal(e.stack, 'PhoneAgentError: turn over', 'no frames captured')
  t.equal(Error.stackTraceLimit, before)
  t.match(new PhoneAgentError('TURN_OVER', 'turn over').stack, /\n\s+at /, 'other errors keep theirs')
})
