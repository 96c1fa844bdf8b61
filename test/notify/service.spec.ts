import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildConfig } from '../../lib/config/load.ts'
import { startPhoneAgent } from '../../lib/app.ts'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { MessageTable } from '../../lib/records/owner-sql.ts'
import { validateConfig } from '../../lib/cli/validate.ts'
import { withTestVad } from '../helpers/agent.ts'
import { captureLogs } from '../helpers/logs.ts'
import { toneSpeaker, toneWav } from '../helpers/speaker.ts'
import { receiver, smtpSink, tempStore } from './helpers.ts'

const DID = '+390212345678'

t.test('a simulated call leaves a message: transcribed after the call, then a signed webhook and an e-mail with the audio', async (t) => {
  const db = await tempStore()
  const hook = await receiver()
  const smtp = await smtpSink()
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-sounds-'))
  t.teardown(async () => { await hook.close(); await smtp.close(); await db.cleanup(); await rm(soundsDir, { recursive: true, force: true }) })
  const config = buildConfig({
    server: { port: 0, commandTimeoutMs: 3000, lingerMs: 50 },
    media: withTestVad({ soundsDir, mode: 'files' }),
    routes: { [DID]: { script: 'take-message', language: 'it-IT' } },
    notify: {
      webhook: { url: hook.url, when: 'messages' },
      email: { from: 'agent@example.com', to: ['owner@example.com'], smtp: { host: '127.0.0.1', port: smtp.port } },
    },
  }, process.cwd())
  const env = { PHONE_AGENT_WEBHOOK_SECRET: 'k' }
  const heard: number[] = []
  const languages: Array<string | undefined> = []
  const stt = {
    name: 'fake-stt',
    transcribe: async (audio: { pcm: Buffer, sampleRate: number }, options: { language?: string }) => {
      heard.push(audio.pcm.length / 2 / audio.sampleRate)
      languages.push(options.language)
      if (heard.length === 1) throw new Error('transient STT failure')
      return { text: ' Please call me back about the boiler ', durationMs: 1000 }
    },
  }
  const { logger } = captureLogs()
  const agent = await startPhoneAgent(config, { logger, speaker: toneSpeaker(soundsDir), store: db.store, records: db.store, env, stt: stt as never })
  t.teardown(async () => { await agent.stop(5000) })
  t.ok(agent.owner, 'owner services running')

  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({
    port: agent.server.port, destination: DID, callerNumber: '+393331234567', callerName: 'Mario Rossi',
    caller: { audio: [{ atMs: 1500, wav: toneWav(1500, 8000, 300, 12000) }] },
  }).ended
  await agent.owner!.settled()
  // Retried once (the fake STT fails its first try): retryDelayMs defaults to 2 s.
  await agent.owner!.transcriber!.idle()
  const [extra] = await new MessageTable(db.store.sql).extras(result.uuid)
  t.match(extra, { transcriptStatus: 'done', transcript: 'Please call me back about the boiler' })
  t.equal(heard.length, 2, 'the first STT failure was retried')
  t.same(languages, ['it-IT', 'it-IT'], 'in the route\'s language')
  t.ok((heard[0] ?? 0) > 1, 'the whole recording went to STT')

  // The worker was woken by the transcript; wait for both deliveries without timing assumptions.
  for (let i = 0; i < 200 && (hook.received.length === 0 || smtp.mails.length === 0); i++) await new Promise((r) => setTimeout(r, 50))
  t.equal(hook.received.length, 1)
  const body = JSON.parse(hook.received[0]!.body)
  t.match(body, { call: { uuid: result.uuid, callerName: 'Mario Rossi', outcome: 'message_taken' }, messages: [{ transcript: 'Please call me back about the boiler', hasRecording: true }] })
  t.equal(smtp.mails.length, 1)
  t.match(smtp.mails[0]!.raw, /Please call me back about the boiler/)
  t.match(smtp.mails[0]!.raw, /name=message-1\.wav/)
})

t.test('check and start-up name the missing secrets', async (t) => {
  const config = buildConfig({
    routes: { [DID]: { script: 'take-message' } },
    ops: { http: { host: '0.0.0.0', allowRemote: true } },
    notify: {
      webhook: { url: 'https://example.com/hook' },
      email: { from: 'a@example.com', to: ['b@example.com'], smtp: { host: 'smtp.example.com', user: 'agent' } },
    },
  }, process.cwd())
  const err = await validateConfig(config, { env: {} }).then(() => undefined, (e: unknown) => e as { problems?: Array<{ field: string }> })
  const fields = (err?.problems ?? []).map((p) => p.field)
  t.ok(fields.includes('notify.webhook.secretEnv'), 'webhook secret')
  t.ok(fields.includes('notify.email.smtp.passwordEnv'), 'SMTP password')
  t.ok(fields.includes('console.tokenEnv'), 'console token off loopback')

  const db = await tempStore()
  t.teardown(async () => { await db.cleanup() })
  const { startOwnerServices } = await import('../../lib/owner/services.ts')
  const refused = await startOwnerServices(config, { store: db.store, logger: captureLogs().logger, env: { PHONE_AGENT_WEBHOOK_SECRET: 'x', PHONE_AGENT_SMTP_PASSWORD: 'y' } })
    .then(() => undefined, (e: unknown) => e as { field?: string })
  t.equal(refused?.field, 'console.tokenEnv', 'refuses to start with the console open beyond loopback and no token')
})

t.test('closing the owner services leaves no timer or socket behind (outbox worker, digest, retention, transcriber)', async (t) => {
  const { leaksSince, resources } = await import('../helpers/leaks.ts')
  const { startOwnerServices } = await import('../../lib/owner/services.ts')
  const db = await tempStore()
  const hook = await receiver([500])
  const smtp = await smtpSink()
  t.teardown(async () => { await hook.close(); await smtp.close(); await db.cleanup() })
  const config = buildConfig({
    routes: { [DID]: { script: 'take-message' } },
    notify: {
      webhook: { url: hook.url }, email: { from: 'a@example.com', to: ['b@example.com'], smtp: { host: '127.0.0.1', port: smtp.port } },
      digest: { enabled: true, hour: 0 },
    },
    retention: { days: 30, intervalMinutes: 1 },
  }, process.cwd())
  const baseline = resources()
  const owner = await startOwnerServices(config, {
    store: db.store, logger: captureLogs().logger, env: { PHONE_AGENT_WEBHOOK_SECRET: 'k' },
    stt: { name: 'fake', transcribe: async () => ({ text: 'x', durationMs: 1 }) },
  })
  const { recordCall } = await import('./helpers.ts')
  await recordCall(owner.records, { uuid: 'leak-1', message: { text: 'hi' } })
  await owner.settled()
  for (let i = 0; i < 200 && hook.received.length === 0; i++) await new Promise((r) => setTimeout(r, 25))
  t.equal(hook.received.length, 1, 'the worker ran (and got a 500: a retry timer is pending)')
  await owner.close()
  t.same(await leaksSince(baseline), {}, 'no timers or sockets left')
})
