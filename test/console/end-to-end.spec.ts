import t from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { CHROMIUM, SKIP_WITHOUT_CHROMIUM, artifactsDir } from './browser-env.ts'
import { buildConfig } from '../../lib/config/load.ts'
import { startPhoneAgent } from '../../lib/app.ts'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { startOpsServer } from '../../lib/ops/http.ts'
import { Metrics } from '../../lib/ops/metrics.ts'
import { encodeWav, parseWav } from '../../lib/media/wav.ts'
import { withTestVad } from '../helpers/agent.ts'
import { captureLogs } from '../helpers/logs.ts'
import { toneSpeaker } from '../helpers/speaker.ts'
import { speechLike } from '../media-stream/signals.ts'
import { receiver, smtpSink, tempStore } from '../notify/helpers.ts'

// Issue 17's whole path in one call: a recorded stream-mode call that leaves a message gives a
// stereo WAV, a transcribed message, a webhook delivery and an e-mail (loopback receivers), and
// the console shows all of it in a real browser.
const DID = '+390212345678'

t.test('one recorded call: stereo WAV, transcribed message, webhook, e-mail, and the console shows it', SKIP_WITHOUT_CHROMIUM, async (t) => {
  const ARTIFACTS = await artifactsDir(t)
  const db = await tempStore()
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-sounds-'))
  const hook = await receiver()
  const smtp = await smtpSink()
  t.teardown(async () => { await hook.close(); await smtp.close(); await db.cleanup(); await rm(soundsDir, { recursive: true, force: true }) })
  const config = buildConfig({
    server: { port: 0, commandTimeoutMs: 3000, lingerMs: 50 },
    media: withTestVad({ soundsDir, mode: 'stream', stream: { recording: { consent: { enabled: false } } } }),
    routes: { [DID]: { script: 'take-message', language: 'en-US', recordCall: true, options: { greeting: 'Leave a message.', thanks: 'Thanks.' } } },
    console: { timeZone: 'UTC' },
    notify: {
      webhook: { url: hook.url, when: 'messages' },
      email: { from: 'agent@example.com', to: ['owner@example.com'], smtp: { host: '127.0.0.1', port: smtp.port } },
    },
  }, process.cwd())
  const { logger } = captureLogs()
  const stt = { name: 'fake-stt', transcribe: async () => ({ text: 'Please call me back about the boiler', durationMs: 1000 }) }
  const agent = await startPhoneAgent(config, { logger, speaker: toneSpeaker(soundsDir), store: db.store, records: db.store, env: { PHONE_AGENT_WEBHOOK_SECRET: 'k' }, stt: stt as never })
  t.teardown(async () => { await agent.stop(5000) })
  const owner = agent.owner!
  const ops = await startOpsServer({ host: '127.0.0.1', port: 0, metrics: new Metrics({ processMetrics: false }), health: () => ({ ok: true }), logger, console: owner.console })
  t.teardown(async () => { await ops.close() })

  const speech = encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 1.5, -18) })
  const result = await new FakeFreeSwitch().placeCall({
    port: agent.server.port, destination: DID, callerNumber: '+393331234567', callerName: 'Mario Rossi',
    caller: { audio: [{ atMs: 1500, wav: speech }] },
  }).ended
  await owner.settled()
  await owner.transcriber!.idle()
  for (let i = 0; i < 300 && (hook.received.length < 1 || smtp.mails.length < 1); i++) await new Promise((r) => setTimeout(r, 50))

  const call = await db.store.get(result.uuid)
  t.equal(call?.outcome, 'message_taken')
  const path = call?.recordingPath
  t.ok(typeof path === 'string', 'the record points at the call recording')
  if (typeof path === 'string') t.equal(parseWav(await readFile(path)).channels, 2, 'a stereo WAV')
  t.equal(hook.received.length, 1, 'one webhook delivery')
  t.match(hook.received[0]?.body, 'Please call me back about the boiler', 'carrying the message transcript')
  t.equal(smtp.mails.length, 1, 'one e-mail')
  t.match(smtp.mails[0]?.raw, /Please call me back about the boiler/)

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
  t.teardown(async () => { await browser.close() })
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  await page.goto(`${ops.url}/console/calls/${result.uuid}`)
  t.match(await page.textContent('.transcript'), 'Please call me back about the boiler', 'the message transcript on the call page')
  t.equal(await page.getAttribute('#call-recording', 'src'), `/console/audio/${result.uuid}/call`, 'a player for the whole-call recording')
  const audio = await page.request.get(`${ops.url}/console/audio/${result.uuid}/call`)
  t.equal(audio.status(), 200)
  t.equal(parseWav(await audio.body()).channels, 2, 'which serves the stereo file')
  const deliveries = await page.textContent('#notifications') ?? ''
  t.match(deliveries, /webhook\s*sent\s*1/, 'the webhook delivery shown')
  t.match(deliveries, /email\s*sent\s*1/, 'the e-mail shown')
  await page.screenshot({ path: join(ARTIFACTS, 'end-to-end-call.png'), fullPage: true })
})
