import { Writable } from 'node:stream'
import t from 'tap'
import { createLogger, REDACT_CENSOR } from '../../lib/ops/logger.ts'

function capture () {
  const lines: Array<Record<string, any>> = []
  const stream = new Writable({
    write (chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l))
      cb()
    },
  })
  return { logger: createLogger('info', stream), lines }
}

t.test('secrets are redacted wherever they sit, the rest is kept', async (t) => {
  const { logger, lines } = capture()
  logger.info({
    apiKey: 'k0',
    provider: { name: 'openai', apiKey: 'k1', options: { password: 'p2', nested: { clientSecret: 's3' } } },
    headers: { authorization: 'Bearer x', 'x-api-key': 'k4', accept: 'json' },
    req: { headers: { Authorization: 'Basic y', cookie: 'sid=1' } },
    err: { message: 'boom', config: { headers: { Authorization: 'Bearer z' } } },
    records: { connectionString: 'postgres://u:pw@h/db' },
    call: 'uuid-1',
  }, 'provider call')
  const line = lines[0] ?? {}
  t.equal(line.apiKey, REDACT_CENSOR)
  t.equal(line.provider.apiKey, REDACT_CENSOR)
  t.equal(line.provider.name, 'openai')
  t.equal(line.provider.options.password, REDACT_CENSOR)
  t.equal(line.provider.options.nested.clientSecret, REDACT_CENSOR)
  t.equal(line.headers.authorization, REDACT_CENSOR)
  t.equal(line.headers['x-api-key'], REDACT_CENSOR)
  t.equal(line.headers.accept, 'json')
  t.equal(line.req.headers.Authorization, REDACT_CENSOR)
  t.equal(line.req.headers.cookie, REDACT_CENSOR)
  t.equal(line.err.config.headers.Authorization, REDACT_CENSOR)
  t.equal(line.err.message, 'boom')
  t.equal(line.records.connectionString, REDACT_CENSOR)
  t.equal(line.call, 'uuid-1')
  t.equal(line.msg, 'provider call')
  t.notMatch(JSON.stringify(lines), /k0|k1|p2|s3|Bearer|Basic|sid=1|pw@/)
})

t.test('child loggers keep redaction', async (t) => {
  const { logger, lines } = capture()
  logger.child({ call: 'c-1', did: '+391' }).child({ turn: 2 }).warn({ password: 'hunter2' }, 'x')
  t.match(lines[0], { call: 'c-1', did: '+391', turn: 2, password: REDACT_CENSOR, service: 'phone-agent' })
})

t.test('redaction copies the branches it changes and leaves the logged object as it was', async (t) => {
  const { logger, lines } = capture()
  const shared = { name: 'kept' }
  const record = { provider: { apiKey: 'k1', shared }, list: [{ token: 't2' }, { plain: 1 }], headers: { 'X-Api-Key': 'k3' } }
  logger.info(record, 'x')
  t.same(record, { provider: { apiKey: 'k1', shared }, list: [{ token: 't2' }, { plain: 1 }], headers: { 'X-Api-Key': 'k3' } }, 'the caller\'s object is untouched')
  t.match(lines[0], { provider: { apiKey: REDACT_CENSOR, shared: { name: 'kept' } }, list: [{ token: REDACT_CENSOR }, { plain: 1 }], headers: { 'X-Api-Key': REDACT_CENSOR } })
})

t.test('a secret below the walked depth is left to the line scrubber, an Error to its serializer', async (t) => {
  const { logger, lines } = capture()
  const err = Object.assign(new Error('failed'), { config: { headers: { Authorization: 'Bearer abcdefghijklmnop1234' } } })
  logger.warn({ a: { b: { c: { d: { password: 'deep-secret-1' } } } }, err }, 'x')
  t.notMatch(JSON.stringify(lines[0]), /deep-secret-1|abcdefghijklmnop1234/)
  t.equal(lines[0]?.err?.config?.headers?.Authorization, REDACT_CENSOR)
  t.equal(lines[0]?.err?.type, 'Error', 'the error still serialises as an error')
})
