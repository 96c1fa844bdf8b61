import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { CHROMIUM, SKIP_WITHOUT_CHROMIUM, artifactsDir } from './browser-env.ts'
import { buildConfig } from '../../lib/config/load.ts'
import { startPhoneAgent } from '../../lib/app.ts'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { startOpsServer } from '../../lib/ops/http.ts'
import { Metrics } from '../../lib/ops/metrics.ts'
import { withTestVad } from '../helpers/agent.ts'
import { captureLogs } from '../helpers/logs.ts'
import { toneSpeaker, toneWav } from '../helpers/speaker.ts'
import { messageWav, receiver, recordCall, tempStore } from '../notify/helpers.ts'

const DID = '+390212345678'
const HOSTILE_NAME = '<script>alert(1)</script><img src=x onerror=alert(2)>'
const HOSTILE_TEXT = '</div><b id="owned">bold</b><svg onload=alert(3)>'

t.test('the console in a real browser: live call, call list with filters and search, call page, messages done/undone; hostile text stays text', SKIP_WITHOUT_CHROMIUM, async (t) => {
  const ARTIFACTS = await artifactsDir(t)
  const db = await tempStore()
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-sounds-'))
  const hook = await receiver()
  t.teardown(async () => { await hook.close(); await db.cleanup(); await rm(soundsDir, { recursive: true, force: true }) })
  const config = buildConfig({
    server: { port: 0, commandTimeoutMs: 3000, lingerMs: 50 },
    media: withTestVad({ soundsDir, mode: 'files' }),
    routes: { [DID]: { script: 'take-message', language: 'it-IT' } },
    ops: { http: { port: 9464 } },
    console: { timeZone: 'UTC' },
    notify: { webhook: { url: hook.url, when: 'messages' } },
  }, process.cwd())
  const { logger } = captureLogs()
  const stt = { name: 'fake-stt', transcribe: async () => ({ text: 'Please call me back about the boiler', durationMs: 1000 }) }
  const agent = await startPhoneAgent(config, { logger, speaker: toneSpeaker(soundsDir), store: db.store, records: db.store, env: { PHONE_AGENT_WEBHOOK_SECRET: 'k' }, stt: stt as never })
  t.teardown(async () => { await agent.stop(5000) })
  const owner = agent.owner!
  const ops = await startOpsServer({ host: '127.0.0.1', port: 0, metrics: new Metrics({ processMetrics: false }), health: () => ({ ok: true }), logger, console: owner.console })
  t.teardown(async () => { await ops.close() })

  // A real simulated call that leaves a message (transcribed after the call) ...
  const result = await new FakeFreeSwitch().placeCall({
    port: agent.server.port, destination: DID, callerNumber: '+393331234567', callerName: 'Mario Rossi',
    caller: { audio: [{ atMs: 1500, wav: toneWav(1500, 8000, 300, 12000) }] },
  }).ended
  await owner.settled()
  await owner.transcriber!.idle()
  // ... a hostile caller with a conversation (interruption, latency, an error, cost) ...
  const wav = await messageWav(soundsDir, 'hostile.wav')
  await recordCall(owner.records, {
    uuid: 'hostile-call', callerName: HOSTILE_NAME, outcome: 'failed', cost: 0.0123,
    turns: [{ role: 'caller', text: HOSTILE_TEXT }, { role: 'agent', text: 'Let me check that for', interrupted: true }],
    message: { text: `Message ${HOSTILE_TEXT}`, recordingPath: wav },
    error: { code: 'LLM_TIMEOUT', message: '<i>slow</i> model', provider: 'llm' },
  })
  await owner.settled()
  // ... and a call still in progress.
  const live = owner.records.begin({ uuid: 'live-call', did: DID, callerNumber: '+41441234567', callerName: 'Live Caller', script: 'receptionist', startedAt: Date.now() - 65_000 })
  live.answered()
  live.turn({ role: 'caller', text: 'hello' })

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
  t.teardown(async () => { await browser.close() })
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  const dialogs: string[] = []
  page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss() })
  const shot = async (name: string): Promise<void> => { await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true }) }

  await page.goto(`${ops.url}/console`)
  t.equal(new URL(page.url()).pathname, '/console/live')
  t.match(await page.textContent('#live'), /Live Caller/)
  t.match(await page.textContent('#live .phase'), 'caller spoke')
  const shown = /(\d+):(\d\d)\s*$/.exec((await page.textContent('#live tbody td:last-child')) ?? '')
  t.ok(shown !== null && Number(shown[1]) * 60 + Number(shown[2]) >= 65, `duration counts from the call's start (${shown?.[0]})`)
  await shot('live')
  await live.end({ outcome: 'completed' })

  await page.goto(`${ops.url}/console/calls`)
  const list = await page.textContent('#calls') ?? ''
  t.match(list, HOSTILE_NAME, 'the hostile name is shown as text')
  t.match(list, 'Mario Rossi')
  t.equal(await page.locator('#calls script, #calls img').count(), 0, 'no element came from caller text')
  await shot('calls')

  await page.selectOption('select[name=outcome]', 'message_taken')
  await page.click('button[type=submit]')
  const filtered = await page.textContent('#calls') ?? ''
  t.match(filtered, 'Mario Rossi')
  t.notMatch(filtered, 'alert(1)', 'outcome filter')
  await page.goto(`${ops.url}/console/calls?q=BOILER`)
  t.match(await page.textContent('#calls'), 'Mario Rossi', 'search finds the voicemail transcript, any case')
  t.equal(await page.locator('#calls tbody tr').count(), 2, 'both messages were transcribed (the fake STT says the same)')
  await page.goto(`${ops.url}/console/calls?q=${encodeURIComponent('100%')}`)
  t.equal(await page.locator('#calls tbody tr').count(), 0, '% matches itself, not anything')
  await page.goto(`${ops.url}/console/calls?q=${encodeURIComponent('<b id="owned">')}`)
  t.equal(await page.locator('#calls tbody tr').count(), 1, 'search finds the hostile transcript')
  await page.goto(`${ops.url}/console/calls?caller=3331234567&did=0212345678`)
  t.equal(await page.locator('#calls tbody tr').count(), 2, 'caller and DID filters normalise national numbers')

  await page.goto(`${ops.url}/console/calls/hostile-call`)
  t.equal(await page.locator('#owned').count(), 0, 'transcript markup not rendered')
  t.match(await page.textContent('main'), HOSTILE_TEXT)
  t.match(await page.textContent('.turn.interrupted'), /Let me check that for\s*interrupted/, 'interruption marked')
  t.ok(await page.locator('svg[aria-label="Per-turn latency waterfall"] rect').count() >= 5, 'latency waterfall drawn')
  t.match(await page.textContent('svg title'), /STT final: 200 ms/)
  t.match(await page.textContent('#errors'), '<i>slow</i> model')
  t.match(await page.textContent('.facts'), '0.0123')
  const src = await page.getAttribute('audio', 'src')
  t.equal(src, '/console/audio/hostile-call/1')
  const audio = await page.request.get(`${ops.url}${src}`)
  t.equal(audio.status(), 200)
  t.equal(audio.headers()['content-type'], 'audio/wav')
  t.equal((await audio.body()).subarray(0, 4).toString(), 'RIFF')
  await shot('call-hostile')

  for (let i = 0; i < 200 && hook.received.length < 2; i++) await new Promise((r) => setTimeout(r, 50))
  await page.goto(`${ops.url}/console/calls/${result.uuid}`)
  t.match(await page.textContent('.transcript'), 'Please call me back about the boiler', 'voicemail transcript on the call page')
  t.match(await page.textContent('#notifications'), /webhook\s*sent\s*1/, 'the delivery shown with its outcome')
  await shot('call-message')

  await page.goto(`${ops.url}/console/messages`)
  t.equal(await page.locator('#messages tbody tr').count(), 2)
  await shot('messages')
  await page.locator('#messages tr', { hasText: 'Mario Rossi' }).locator('button').click()
  t.equal(new URL(page.url()).pathname, '/console/messages', `${page.url()} ${await page.textContent('body')}`)
  t.equal(await page.locator('#messages tbody tr').count(), 1, 'done: off the list')
  await page.goto(`${ops.url}/console/messages?all=1`)
  const doneRow = page.locator('#messages tr.done')
  t.match(await doneRow.textContent(), /Mario Rossi[\s\S]*done/)
  await doneRow.locator('button').click()
  await page.goto(`${ops.url}/console/messages`)
  t.equal(await page.locator('#messages tbody tr').count(), 2, 'undone: back on the list')

  // A cross-site form post (no CSRF token, another Origin) changes nothing.
  const forged = await fetch(`${ops.url}/console/messages/${result.uuid}/1`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' }, body: 'done=1' })
  t.equal(forged.status, 403)
  t.same(dialogs, [], 'no script ran')
})
