import t from 'tap'
import { readFile } from 'node:fs/promises'
import { ERROR_CODES, PhoneAgentError } from '../../lib/errors.ts'

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
