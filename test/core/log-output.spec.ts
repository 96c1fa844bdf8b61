import t from 'tap'
import { PassThrough } from 'node:stream'
import { logFormat, logLevel, serviceLogger, transcriptLine, transcriptLogger } from '../../lib/cli/log-output.ts'

// Logs for people at a terminal, JSON for machines; a call's own lines in `phone-agent call`.

t.test('pretty on a terminal, JSON otherwise, and the environment decides when it says', async (t) => {
  t.equal(logFormat({ isTTY: true }, {}), 'pretty')
  t.equal(logFormat({ isTTY: false }, {}), 'json')
  t.equal(logFormat({}, {}), 'json', 'a pipe or the journal')
  t.equal(logFormat({ isTTY: true }, { PHONE_AGENT_LOG_FORMAT: 'json' }), 'json')
  t.equal(logFormat({}, { PHONE_AGENT_LOG_FORMAT: 'pretty' }), 'pretty')
  t.equal(logLevel('info', {}), 'info')
  t.equal(logLevel('info', { PHONE_AGENT_LOG_LEVEL: 'debug' }), 'debug')
})

t.test('serve on a terminal writes readable lines through pino-pretty', async (t) => {
  const tty = Object.assign(new PassThrough(), { isTTY: true }) as unknown as NodeJS.WriteStream
  let text = ''
  ;(tty as unknown as PassThrough).on('data', (d: Buffer) => { text += d.toString() })
  const logger = serviceLogger('info', {}, tty)
  logger.info({ port: 8084 }, 'outbound event socket listening')
  logger.flush()
  await new Promise((resolve) => setImmediate(resolve))
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, '')
  t.match(plain, /INFO: outbound event socket listening/)
  t.match(plain, /port: 8084/)
  t.notMatch(text, /^\{"level"/m, 'not JSON')
})

t.test("the call transcript shows a call's info lines and only warnings of the rest", async (t) => {
  const lines: string[] = []
  const logger = transcriptLogger('info', (line) => { lines.push(line) }, {})
  logger.info({ port: 1 }, 'outbound event socket listening')
  logger.child({ call: 'abc', did: '+390212345678' }).info({ seconds: 4 }, 'message left')
  logger.warn('espeak-ng missing')
  logger.child({ call: 'abc' }).debug('too detailed')
  t.same(lines, ['log   : message left  seconds=4', 'warn  : espeak-ng missing'])
  t.equal(transcriptLine({ msg: 'failed', err: { code: 'TTS_FAILED', message: 'boom\nnext' }, call: 'x' }), 'failed  err=TTS_FAILED: boom next')
})
