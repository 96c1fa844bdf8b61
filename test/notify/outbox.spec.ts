import t from 'tap'
import { createHmac } from 'node:crypto'
import { notifySchema, privacySchema } from '../../lib/notify/config.ts'
import { Notifier } from '../../lib/notify/notifier.ts'
import { backoffMs } from '../../lib/notify/outbox-worker.ts'
import { captureLogs } from '../helpers/logs.ts'
import { messageWav, receiver, recordCall, smtpSink, tempStore } from './helpers.ts'

const SECRET = 'hook-secret'
const env = { PHONE_AGENT_WEBHOOK_SECRET: SECRET, PHONE_AGENT_SMTP_PASSWORD: 'smtp-secret' }

function clock (start = Date.UTC(2026, 0, 10, 9)): { now: () => number, advance (ms: number): void } {
  let at = start
  return { now: () => at, advance: (ms) => { at += ms } }
}

t.test('backoff doubles from the first delay up to the cap', async (t) => {
  t.same([1, 2, 3, 4, 10].map((n) => backoffMs(n, 30_000, 200_000)), [30_000, 60_000, 120_000, 200_000, 200_000])
})

t.test('webhook: signed JSON, retried with backoff after 500s, delivered once, kept in the outbox', async (t) => {
  const c = clock()
  const db = await tempStore(c.now)
  const hook = await receiver([500, 503])
  t.teardown(async () => { await hook.close(); await db.cleanup() })
  const config = notifySchema.parse({ webhook: { url: hook.url }, retry: { attempts: 5, firstDelaySeconds: 10 } })
  const { logger, records } = captureLogs()
  const notifier = new Notifier(config, privacySchema.parse({}), { store: db.store, logger, env, now: c.now, manual: true })
  t.teardown(async () => { await notifier.close() })

  await recordCall(db.store, { uuid: 'call-1', turns: [{ role: 'caller', text: 'Hello, I need a plumber' }, { role: 'agent', text: 'Sure, tell me', interrupted: true }], message: { text: 'Call me back' } })
  await notifier.callEnded('call-1')
  t.equal(await notifier.worker.runDue(), 1, 'first attempt')
  t.equal(hook.received.length, 1)
  let row = await notifier.outbox.get('call-1:webhook')
  t.match(row, { status: 'pending', attempts: 1, lastError: 'HTTP 500', nextAttemptAt: c.now() + 10_000 })
  t.equal(await notifier.worker.runDue(), 0, 'nothing due before the backoff')
  c.advance(10_000)
  t.equal(await notifier.worker.runDue(), 1)
  row = await notifier.outbox.get('call-1:webhook')
  t.match(row, { status: 'pending', attempts: 2, lastError: 'HTTP 503', nextAttemptAt: c.now() + 20_000 }, 'the delay doubled')
  c.advance(20_000)
  t.equal(await notifier.worker.runDue(), 1)
  t.match(await notifier.outbox.get('call-1:webhook'), { status: 'sent', attempts: 3, sentAt: c.now(), lastError: null })
  t.equal(hook.received.length, 3)

  const last = hook.received[2]!
  t.equal(last.headers['content-type'], 'application/json')
  t.equal(last.headers['x-phone-agent-delivery'], 'call-1:webhook')
  const expected = `sha256=${createHmac('sha256', SECRET).update(last.body).digest('hex')}`
  t.equal(last.headers['x-phone-agent-signature'], expected, 'HMAC-SHA256 over the raw body')
  t.equal(hook.received[0]!.body, last.body, 'every retry sends the same body')
  const body = JSON.parse(last.body)
  t.match(body, {
    event: 'call.ended', id: 'call-1:webhook',
    call: { uuid: 'call-1', did: '+390212345678', callerNumber: '+393331234567', callerName: 'Anna Rossi', outcome: 'message_taken' },
    transcript: [{ role: 'caller', text: 'Hello, I need a plumber', interrupted: false }, { role: 'agent', text: 'Sure, tell me', interrupted: true }],
    messages: [{ seq: 1, text: 'Call me back', hasRecording: false }],
  })
  t.match(body.summary, /^Message taken: Anna Rossi \(\+393331234567\) called \+390212345678, 0:0\d, 1 message\.$/)
  t.ok(records.some((r) => r.msg === 'notification delivered' && r.attempt === 3))

  await notifier.callEnded('call-1')
  c.advance(3_600_000)
  t.equal(await notifier.worker.runDue(), 0, 'a call ended twice is not notified twice')
})

t.test('the outbox survives a restart: a receiver down at call end gets the notification from the next process', async (t) => {
  const c = clock()
  const db = await tempStore(c.now)
  t.teardown(async () => { await db.cleanup() })
  const dead = await receiver()
  const deadUrl = dead.url
  await dead.close()
  const config = notifySchema.parse({ webhook: { url: deadUrl }, retry: { firstDelaySeconds: 30 } })
  const first = new Notifier(config, privacySchema.parse({}), { store: db.store, logger: captureLogs().logger, env, now: c.now, manual: true })
  await recordCall(db.store, { uuid: 'call-2' })
  await first.callEnded('call-2')
  await first.worker.runDue()
  t.match(await first.outbox.get('call-2:webhook'), { status: 'pending', attempts: 1 })
  t.equal((await first.outbox.get('call-2:webhook'))?.lastError, 'ECONNREFUSED')
  await first.close()
  await db.store.close()

  // The receiver comes back on the same port; a new process opens the same database.
  const back = await receiver()
  t.teardown(async () => { await back.close() })
  const store = await db.reopen()
  const second = new Notifier(notifySchema.parse({ webhook: { url: back.url }, retry: { firstDelaySeconds: 30 } }), privacySchema.parse({}),
    { store, logger: captureLogs().logger, env, now: c.now, manual: true })
  t.teardown(async () => { await second.close() })
  t.equal(await second.worker.runDue(), 0, 'still backing off')
  c.advance(30_000)
  t.equal(await second.worker.runDue(), 1)
  t.equal(back.received.length, 1)
  t.equal(JSON.parse(back.received[0]!.body).call.uuid, 'call-2')
  t.match(await second.outbox.get('call-2:webhook'), { status: 'sent', attempts: 2 })
})

t.test('a 4xx is permanent; the last attempt fails the row; a missing secret is retried, not sent unsigned', async (t) => {
  const c = clock()
  const db = await tempStore(c.now)
  const hook = await receiver([400, 500, 500])
  t.teardown(async () => { await hook.close(); await db.cleanup() })
  const config = notifySchema.parse({ webhook: { url: hook.url }, retry: { attempts: 2, firstDelaySeconds: 1 } })
  const n = new Notifier(config, privacySchema.parse({}), { store: db.store, logger: captureLogs().logger, env, now: c.now, manual: true })
  t.teardown(async () => { await n.close() })
  await recordCall(db.store, { uuid: 'bad' })
  await n.callEnded('bad')
  await n.worker.runDue()
  t.match(await n.outbox.get('bad:webhook'), { status: 'failed', attempts: 1, lastError: 'HTTP 400' })

  await recordCall(db.store, { uuid: 'flaky' })
  await n.callEnded('flaky')
  await n.worker.runDue()
  c.advance(1000)
  await n.worker.runDue()
  t.match(await n.outbox.get('flaky:webhook'), { status: 'failed', attempts: 2, lastError: 'HTTP 500' }, 'attempts exhausted')

  const unsigned = new Notifier(config, privacySchema.parse({}), { store: db.store, logger: captureLogs().logger, env: {}, now: c.now, manual: true })
  t.teardown(async () => { await unsigned.close() })
  await recordCall(db.store, { uuid: 'nosecret' })
  await unsigned.callEnded('nosecret')
  const before = hook.received.length
  await unsigned.worker.runDue()
  t.equal(hook.received.length, before, 'nothing sent without the secret')
  t.match(await unsigned.outbox.get('nosecret:webhook'), { status: 'pending', lastError: 'PHONE_AGENT_WEBHOOK_SECRET is not set' })
})

t.test('triggers: messages only, failures only', async (t) => {
  const c = clock()
  const db = await tempStore(c.now)
  t.teardown(async () => { await db.cleanup() })
  const config = notifySchema.parse({
    webhook: { url: 'http://127.0.0.1:9/x', when: 'failures' },
    email: { from: 'agent@example.com', to: ['owner@example.com'], when: 'messages', smtp: { host: '127.0.0.1', port: 9 } },
  })
  const n = new Notifier(config, privacySchema.parse({}), { store: db.store, logger: captureLogs().logger, env, now: c.now, manual: true })
  t.teardown(async () => { await n.close() })
  await recordCall(db.store, { uuid: 'plain' })
  await recordCall(db.store, { uuid: 'msg', message: { text: 'hi' } })
  await recordCall(db.store, { uuid: 'broken', outcome: 'failed', error: { code: 'LLM_TIMEOUT', message: 'slow', provider: 'llm' } })
  for (const uuid of ['plain', 'msg', 'broken']) await n.callEnded(uuid)
  t.same((await n.outbox.forRef('plain')).map((r) => r.channel), [])
  t.same((await n.outbox.forRef('msg')).map((r) => r.channel), ['email'])
  t.same((await n.outbox.forRef('broken')).map((r) => r.channel), ['webhook'])
})

t.test('e-mail over SMTP: caller, summary, transcript and the message audio attached; masking and no transcripts when asked', async (t) => {
  const c = clock()
  const db = await tempStore(c.now)
  const smtp = await smtpSink()
  t.teardown(async () => { await smtp.close(); await db.cleanup() })
  const wav = await messageWav(db.dir)
  const email = { from: 'agent@example.com', to: ['owner@example.com'], smtp: { host: '127.0.0.1', port: smtp.port, user: 'agent' } }
  const n = new Notifier(notifySchema.parse({ email }), privacySchema.parse({}), { store: db.store, logger: captureLogs().logger, env, now: c.now, manual: true })
  t.teardown(async () => { await n.close() })
  await recordCall(db.store, { uuid: 'mail-1', callerName: 'Evil\r\nBcc: victim@example.com', turns: [{ role: 'caller', text: 'Please call me about the boiler' }], message: { text: 'Boiler broken', recordingPath: wav } })
  await n.callEnded('mail-1')
  await n.worker.runDue()
  t.equal(smtp.mails.length, 1)
  const mail = smtp.mails[0]!
  t.same(mail.to, ['owner@example.com'])
  t.equal(mail.user, 'agent', 'logged in with the password from the environment')
  t.match(mail.raw, /Subject: Message from Evil Bcc: victim@example\.com/, 'a newline in the caller name cannot add a header')
  t.notMatch(mail.raw.split('\r\n\r\n')[0], /^Bcc:/m, 'no Bcc header')
  t.match(mail.raw, /Please call me about the boiler/)
  t.match(mail.raw, /Boiler broken/)
  t.match(mail.raw, /\+393331234567/)
  t.match(mail.raw, /Content-Type: audio\/wav; name=message-1\.wav/)
  t.match(await n.outbox.get('mail-1:email'), { status: 'sent' })

  const masked = new Notifier(notifySchema.parse({ email }), privacySchema.parse({ maskCallerNumbers: true, transcriptsInNotifications: false }),
    { store: db.store, logger: captureLogs().logger, env, now: c.now, manual: true })
  t.teardown(async () => { await masked.close() })
  await recordCall(db.store, { uuid: 'mail-2', turns: [{ role: 'caller', text: 'my secret diagnosis' }], message: { text: 'Ring me' } })
  await masked.callEnded('mail-2')
  await masked.worker.runDue()
  const raw = smtp.mails[1]!.raw
  t.notMatch(raw, /3331234567/, 'number masked')
  t.match(raw, /\+39•+67|=E2=80=A2/, 'masked form shown')
  t.notMatch(raw, /secret diagnosis/, 'transcript left out')
  t.match(raw, /Ring me/, 'the message itself stays')
})

t.test('SMTP refusing the login is a permanent failure', async (t) => {
  const c = clock()
  const db = await tempStore(c.now)
  const smtp = await smtpSink()
  t.teardown(async () => { await smtp.close(); await db.cleanup() })
  const n = new Notifier(notifySchema.parse({ email: { from: 'a@example.com', to: ['o@example.com'], when: 'all', smtp: { host: '127.0.0.1', port: smtp.port, user: 'agent' } } }),
    privacySchema.parse({}), { store: db.store, logger: captureLogs().logger, env: { PHONE_AGENT_SMTP_PASSWORD: 'wrong' }, now: c.now, manual: true })
  t.teardown(async () => { await n.close() })
  await recordCall(db.store, { uuid: 'auth' })
  await n.callEnded('auth')
  await n.worker.runDue()
  t.match(await n.outbox.get('auth:email'), { status: 'failed', lastError: /SMTP 535/ })
  t.equal(smtp.mails.length, 0)
})

t.test('a receiver that never answers times out and is retried; the hung connection is closed', async (t) => {
  const { createServer } = await import('node:http')
  const hung: Array<import('node:http').ServerResponse> = []
  const server = createServer((_req, res) => { hung.push(res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const closed = new Promise<void>((resolve) => { server.on('connection', (s) => { s.on('close', () => resolve()) }) })
  const c = clock()
  const db = await tempStore(c.now)
  t.teardown(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); await db.cleanup() })
  const url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/`
  const n = new Notifier(notifySchema.parse({ webhook: { url, timeoutMs: 200 } }), privacySchema.parse({}), { store: db.store, logger: captureLogs().logger, env, now: c.now, manual: true })
  t.teardown(async () => { await n.close() })
  await recordCall(db.store, { uuid: 'slow' })
  await n.callEnded('slow')
  await n.worker.runDue()
  t.match(await n.outbox.get('slow:webhook'), { status: 'pending', attempts: 1, lastError: 'timed out after 200 ms' })
  await closed
  t.equal(hung.length, 1, 'the request reached the receiver, whose socket we closed')
})
