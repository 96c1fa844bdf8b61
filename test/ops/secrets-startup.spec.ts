import { Writable } from 'node:stream'
import t from 'tap'
import { createLogger } from '../../lib/ops/logger.ts'
import { startTestAgent } from '../helpers/agent.ts'

t.test('start-up registers the secrets the config names by environment variable', async (t) => {
  // doctor.eventSocket.passwordEnv defaults to PHONE_AGENT_ESL_PASSWORD: present in every config.
  const secret = 'esl-Pa55-from-the-environment'
  const before = process.env.PHONE_AGENT_ESL_PASSWORD
  process.env.PHONE_AGENT_ESL_PASSWORD = secret
  t.teardown(() => {
    if (before === undefined) delete process.env.PHONE_AGENT_ESL_PASSWORD
    else process.env.PHONE_AGENT_ESL_PASSWORD = before
  })
  const lines: string[] = []
  const logger = createLogger('info', new Writable({ write (c: Buffer, _e, cb) { lines.push(c.toString()); cb() } }))
  logger.info({ note: `before start-up: ${secret}` }, 'x')
  await startTestAgent(t, { routes: { '+390212345678': { script: 'take-message' } } })
  logger.info({ note: `after start-up: ${secret}` }, 'x')
  t.match(lines[0], secret, 'not known before start-up (a control: the value is not shaped like a key)')
  t.notMatch(lines[1], secret, 'scrubbed from every logger once the agent started')
  t.match(lines[1], 'after start-up: [redacted]')
})
