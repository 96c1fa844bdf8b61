import t from 'tap'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { CANONICAL_HEADER_BYTES, encodeWav, parseWav, parseWavLayout } from '../../lib/media/wav.ts'
import { openCallStore } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { speechLike } from '../media-stream/signals.ts'
import { logSink } from './helpers.ts'
import { findRecording, serveChild, until } from './serve-child.ts'

const DID = '+390212345678'

t.test('kill -9 mid-call: start-up repairs the whole-call recording and the record points at it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-call-crash-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const config = join(dir, 'phone-agent.yaml')
  const dataDir = join(dir, 'data')
  await writeFile(config, [
    'server: { port: 0 }',
    'ops: { http: { enabled: false }, shutdownDeadlineSeconds: 5 }',
    `records: { dataDir: ${JSON.stringify(dataDir)} }`,
    'media: { soundsDir: ./sounds, stream: { recording: { consent: { enabled: false } } } }',
    'routes:',
    `  "${DID}": { script: take-message, language: en-US, recordCall: true, options: { greeting: "Leave a message.", thanks: "Thanks." } }`,
  ].join('\n'))

  const first = serveChild(config)
  t.teardown(() => { if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL') })
  const port = await first.ready
  t.ok(port, 'the first run listens')
  if (port === undefined) return

  // The caller talks without pause for longer than the test lasts: the crash cuts the call.
  const speech = encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 40, -18) })
  const fs = new FakeFreeSwitch()
  const call = fs.placeCall({ port, destination: DID.slice(3), callerNumber: '+393331234567', caller: { audio: [{ atMs: 0, wav: speech }] } })
  const recordings = join(dir, 'sounds', 'recordings')
  const path = await until('the call recording to start', async () => await findRecording(recordings, call.uuid, '-call.wav'))
  // 2.5 s of stereo (4 bytes a sample pair) on disk before the kill.
  await until('2.5 s of the call on disk', async () => (await stat(path)).size >= CANONICAL_HEADER_BYTES + 2.5 * 8000 * 4 ? true : undefined)
  first.child.kill('SIGKILL')
  t.equal(await first.exited, 'SIGKILL', 'the server died without any chance to finish the file')
  call.hangup()
  await call.ended
  await fs.close()
  t.equal(parseWavLayout(await readFile(path)).declaredDataBytes, 0xffffffff, 'the crash left the placeholder sizes')

  const second = serveChild(config)
  t.teardown(() => { if (second.child.exitCode === null && second.child.signalCode === null) second.child.kill('SIGKILL') })
  t.ok(await second.ready, 'the second run starts')
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
  t.ok(second.logs.some((l) => l.msg === 'call being recorded when the last run stopped: recording recovered' && l.call === call.uuid), 'start-up says so')

  const buf = await readFile(path)
  const layout = parseWavLayout(buf)
  t.equal(layout.declaredDataBytes, buf.length - CANONICAL_HEADER_BYTES, 'data size matches the file')
  t.equal(layout.declaredRiffBytes, buf.length - 8, 'RIFF size matches the file')
  const wav = parseWav(buf)
  t.equal(wav.channels, 2, 'a valid stereo WAV')
  const durationMs = wav.samples.length / 2 * 1000 / wav.sampleRate
  t.ok(durationMs >= 2000, `it kept the call so far (${durationMs} ms)`)
  let leftLoud = 0
  for (let i = 0; i < wav.samples.length; i += 2) if (Math.abs(wav.samples[i] as number) > 1000) leftLoud++
  t.ok(leftLoud > 1000, 'the caller\'s speech is on the left channel')

  const { logger } = logSink()
  const store = await openCallStore(recordsSchema.parse({ dataDir }), { logger, configDir: dir, env: {} })
  t.teardown(() => store.close())
  t.match(await store.get(call.uuid), { outcome: 'interrupted', recordingPath: path, recordingMs: Math.round(durationMs) }, 'the record points at the repaired file, with its length')
})
