import { Writable } from 'node:stream'
import t from 'tap'
import { createLogger } from '../../lib/ops/logger.ts'
import { SCRUBBED, SecretScrubber, secretsFromConfig } from '../../lib/ops/scrub.ts'
import { serviceLogger, transcriptLogger } from '../../lib/cli/log-output.ts'

function capture (scrubber = new SecretScrubber()) {
  const raw: string[] = []
  const stream = new Writable({
    write (chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') raw.push(l)
      cb()
    },
  })
  return { logger: createLogger('info', stream, scrubber), raw, scrubber }
}

/** Secrets that must never reach a log line, each with the words around it that must stay. */
const SECRETS: ReadonlyArray<[what: string, secret: string, text: string]> = [
  ['postgres URL password', 'pgPa55word', 'connect postgres://app:pgPa55word@db.internal:5432/calls failed'],
  ['URL userinfo token', 'ghTokenValue123', 'fetch https://ghTokenValue123@example.com/repo.git'],
  ['bearer token', 'abc123def456ghi789', 'sent Authorization: Bearer abc123def456ghi789 upstream'],
  ['bearer token alone', 'Zm9vYmFyYmF6cXV4MTIz', 'retrying with bearer Zm9vYmFyYmF6cXV4MTIz'],
  ['basic auth header', 'dXNlcjpwYXNzd29yZA==', 'authorization: Basic dXNlcjpwYXNzd29yZA=='],
  ['x-api-key header', 'k-9a8b7c6d5e', 'headers {"x-api-key": "k-9a8b7c6d5e", "accept": "json"}'],
  ['OpenAI key', 'sk-abcdefghijklmnopqrstuvwxyz012345', '401: Incorrect API key provided: sk-abcdefghijklmnopqrstuvwxyz012345.'],
  ['OpenAI project key', 'sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34', 'key sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34 rejected'],
  ['Anthropic key', 'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv', 'using sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv'],
  ['Groq key', 'gsk_abcdefghijklmnopqrstuvwxyz0123', 'groq said no to gsk_abcdefghijklmnopqrstuvwxyz0123'],
  ['Google API key', 'AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q', 'GET https://texttospeech.googleapis.com/v1/voices?key=AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q'],
  ['AWS access key id', 'AKIAIOSFODNN7EXAMPLE', 'aws AKIAIOSFODNN7EXAMPLE denied'],
  ['query token', '9f86d081884c7d659a2feaa0c55ad015', 'GET /hook?id=3&token=9f86d081884c7d659a2feaa0c55ad015&x=1'],
  ['query api_key', 'c2VjcmV0LXZhbHVlLWhlcmU', 'url https://x.example/a?api_key=c2VjcmV0LXZhbHVlLWhlcmU'],
  ['password=', 'hunter2hunter2', 'login password=hunter2hunter2 refused'],
  ['JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U expired'],
]

t.test('a table of secrets: none reaches a log line, wherever it sits', async (t) => {
  for (const [what, secret, text] of SECRETS) {
    const { logger, raw } = capture()
    const err = new Error(`provider failed: ${text}`)
    logger.info({ detail: text }, text)
    logger.info({ a: { b: { c: { d: { e: text } } } } }, 'nested')
    logger.info({ list: ['fine', text, { deeper: [text] }] }, 'array')
    logger.error({ err }, 'error')
    logger.child({ endpoint: text }).warn('binding')
    const odd = new Error('short message')
    odd.stack = `Error: short message\n    at call (${text})`
    logger.error({ err: odd }, 'stack only')
    t.equal(raw.length, 6, what)
    for (const line of raw) {
      t.notOk(line.includes(secret), `${what}: not in ${line.slice(0, 60)}…`)
      t.doesNotThrow(() => JSON.parse(line), `${what}: still a JSON line`)
    }
    const first = JSON.parse(raw[0]!) as { msg: string, detail: string }
    t.ok(first.msg.includes(SCRUBBED), `${what}: marked where it was`)
    t.equal(first.msg.split(' ')[0], text.split(' ')[0], `${what}: the words around it kept`)
  }
})

t.test('ordinary text passes untouched', async (t) => {
  const ORDINARY = [
    'caller +393331234567 dialled +390212345678',
    'call 3f2b8c1e-9a4d-4e7b-8c2a-1d2e3f4a5b6c answered',
    'The caller asked about the basic plan; the reply used 120 tokens.',
    'Bearer authentication is not configured',
    'POST https://api.openai.com/v1/chat/completions 200',
    'sip:+393331234567@192.0.2.10;transport=udp',
    'mail mario.rossi@example.com about task-1234567890abcdefghij',
    'Thank you. Your message has been recorded. Goodbye.',
    'turn=3 durationMs=1520 language=it-IT',
    'Risk: 42% of 7 calls; ratio 3/4 = 0.75',
  ]
  const { logger, raw } = capture()
  for (const text of ORDINARY) logger.info({ text, nested: { list: [text] } }, text)
  t.same(raw.map((l) => (JSON.parse(l) as { msg: string }).msg), ORDINARY)
  t.same(raw.map((l) => (JSON.parse(l) as { nested: { list: string[] } }).nested.list[0]), ORDINARY)
})

t.test('JSON structure stays valid around names that look secret', async (t) => {
  const { logger, raw } = capture()
  logger.info({ a: { b: { c: { d: { password: null, token: 3, secret: true, apiKeyEnv: 'OPENAI_API_KEY', authorization: 'Bearer q1w2e3r4t5y6' } } } } }, 'shapes')
  const line = JSON.parse(raw[0]!) as { a: { b: { c: { d: Record<string, unknown> } } } }
  t.same(line.a.b.c.d, { password: null, token: 3, secret: true, apiKeyEnv: 'OPENAI_API_KEY', authorization: SCRUBBED })
  // Deeper than the field-name redaction reaches, with nothing else secret-looking on the line.
  logger.info({ a: { b: { c: { d: { e: { password: 'hunter 2 x' } } } } } }, 'deep')
  t.same((JSON.parse(raw[1]!) as { a: { b: { c: { d: { e: unknown } } } } }).a.b.c.d.e, { password: SCRUBBED })
})

t.test('configured secret values are scrubbed literally, also JSON-escaped', async (t) => {
  const { logger, raw, scrubber } = capture()
  const config = {
    speech: { llm: { openai: { apiKeyEnv: 'LLM_KEY' } }, stt: { providers: [{ apiKeyEnv: 'STT_KEY' }] } },
    records: { postgres: { urlEnv: 'DB_URL' } },
    doctor: { eventSocket: { passwordEnv: 'ESL_PW' } },
    unset: { tokenEnv: 'NOT_SET' },
    short: { secretEnv: 'SHORT' },
  }
  const env = { LLM_KEY: 'plainlookingvalue', STT_KEY: 'quo"te\\slash', DB_URL: 'postgres://u:p%40ss-w0rd@h/db', ESL_PW: 'ClueCon', SHORT: 'abc' }
  const secrets = secretsFromConfig(config, env)
  t.same(secrets.sort(), ['ClueCon', 'abc', 'p%40ss-w0rd', 'p@ss-w0rd', 'plainlookingvalue', 'postgres://u:p%40ss-w0rd@h/db', 'quo"te\\slash'].sort())
  scrubber.addSecrets(secrets)
  logger.info({ note: 'value plainlookingvalue in text', other: 'has quo"te\\slash inside', pw: 'esl ClueCon ok', decoded: 'p@ss-w0rd' }, 'literal')
  const line = raw[0]!
  for (const s of ['plainlookingvalue', 'quo\\"te\\\\slash', 'ClueCon', 'p@ss-w0rd']) t.notOk(line.includes(s), s)
  t.match(JSON.parse(line), { note: `value ${SCRUBBED} in text`, pw: `esl ${SCRUBBED} ok` })
  logger.info({ says: 'abc' }, 'a short value is not scrubbed (it would mangle text)')
  t.match(JSON.parse(raw[1]!), { says: 'abc' })
})

t.test('keys in the vendors\' conventional variables are secrets even when no field names them', async (t) => {
  // A realtime vendor left at its default apiKeyEnv (GEMINI_API_KEY) appears nowhere in the config.
  const env = { GEMINI_API_KEY: 'gemini-value-without-a-known-shape', OPENAI_API_KEY: 'opaque-proxy-token-1234', HOME: '/root' }
  t.same(secretsFromConfig({ agent: { realtime: { vendor: 'gemini' } } }, env).sort(), ['gemini-value-without-a-known-shape', 'opaque-proxy-token-1234'])
})

t.test('the CLI outputs scrub too: pretty lines and the call transcript', async (t) => {
  let pretty = ''
  const stream = Object.assign(new Writable({ write (c: Buffer, _e, cb) { pretty += c.toString(); cb() } }), { isTTY: false })
  const service = serviceLogger('info', { PHONE_AGENT_LOG_FORMAT: 'pretty' }, stream as unknown as NodeJS.WriteStream)
  service.error({ err: new Error('bad key sk-abcdefghijklmnopqrstuvwxyz012345') }, 'provider failed')
  service.info({ url: 'postgres://app:pgPa55word@db/x' }, 'storage')
  await new Promise((resolve) => setImmediate(resolve))
  t.match(pretty, /provider failed/)
  t.notMatch(pretty, /sk-abcdefghij|pgPa55word/)

  const printed: string[] = []
  const transcript = transcriptLogger('info', (line) => { printed.push(line) }, {})
  transcript.child({ call: 'c-1' }).warn({ err: new Error('Authorization: Bearer abc123def456ghi789') }, 'upstream refused')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(printed.length, 1)
  t.match(printed[0], /upstream refused/)
  t.notMatch(printed[0], /abc123def456ghi789/)
})
