import t from 'tap'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeFreeSwitch, type SimulatedCall } from '../../lib/simulator/index.ts'
import { CANONICAL_HEADER_BYTES, encodeWav, parseWav, parseWavLayout } from '../../lib/media/wav.ts'
import { openCallStore } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { speechLike } from '../media-stream/signals.ts'
import { logSink } from './helpers.ts'
import { findRecording, serveChild, until } from './serve-child.ts'

const STREAM_DID = '+390212345678'
const FILES_DID = '+390212345679'
/** What the crash may cost a message: the writer's buffer (500 ms) plus frames in flight. */
const MAX_LOSS_MS = 1000

t.test('kill -9 mid-message: start-up repairs the WAV and the record points at it, in both media modes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-msg-crash-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const config = join(dir, 'phone-agent.yaml')
  const dataDir = join(dir, 'data')
  await writeFile(config, [
    'server: { port: 0 }',
    'ops: { http: { enabled: false }, shutdownDeadlineSeconds: 5 }',
    `records: { dataDir: ${JSON.stringify(dataDir)} }`,
    'media: { soundsDir: ./sounds }',
    'routes:',
    `  "${STREAM_DID}": { script: take-message, language: en-US, options: { greeting: "Leave a message.", thanks: "Thanks." } }`,
    `  "${FILES_DID}": { script: take-message, language: en-US, mediaMode: files, options: { greeting: "Leave a message.", thanks: "Thanks." } }`,
  ].join('\n'))

  const first = serveChild(config)
  t.teardown(() => { if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL') })
  const port = await first.ready
  t.ok(port, 'the first run listens')
  if (port === undefined) return

  // The caller talks without pause for longer than the test lasts: both messages are cut by the crash.
  const speech = encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 40, -18) })
  const fs = new FakeFreeSwitch()
  const place = (destination: string): SimulatedCall => fs.placeCall({ port, destination: destination.slice(3), callerNumber: '+393331234567', caller: { audio: [{ atMs: 0, wav: speech }] } })
  const streamCall = place(STREAM_DID)
  const filesCall = place(FILES_DID)

  const streamDir = join(dir, 'sounds', 'recordings')
  const path = await until('the stream-mode recording to start', async () => await findRecording(streamDir, streamCall.uuid))
  const framesAtStart = streamCall.unicast?.framesSent ?? 0
  await until('the files-mode record application to run', () => filesCall.apps.find((a) => a.name === 'record'))
  // Kill once a few seconds of the message are on disk: today nothing would be, until it ends.
  await until('2.5 s of the message on disk', async () => (await stat(path)).size >= CANONICAL_HEADER_BYTES + 2.5 * 8000 * 2 ? true : undefined)
  first.child.kill('SIGKILL')
  const framesAtKill = streamCall.unicast?.framesSent ?? 0
  t.equal(await first.exited, 'SIGKILL', 'the server died without any chance to finish the files')
  // The callers give up on the dead line (FreeSWITCH closes its own record file on the hangup).
  streamCall.hangup()
  filesCall.hangup()
  await Promise.all([streamCall.ended, filesCall.ended])
  await fs.close()

  const left = parseWavLayout(await readFile(path))
  t.equal(left.declaredDataBytes, 0xffffffff, 'the crash left the placeholder sizes')

  // Start-up of the next run repairs and re-points; then it is stopped normally.
  const second = serveChild(config)
  t.teardown(() => { if (second.child.exitCode === null && second.child.signalCode === null) second.child.kill('SIGKILL') })
  t.ok(await second.ready, 'the second run starts')
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
  t.ok(second.logs.some((l) => l.msg === 'message being recorded when the last run stopped recovered' && l.call === streamCall.uuid), 'start-up says so')

  const buf = await readFile(path)
  const layout = parseWavLayout(buf)
  t.equal(layout.declaredDataBytes, buf.length - CANONICAL_HEADER_BYTES, 'data size matches the file')
  t.equal(layout.declaredRiffBytes, buf.length - 8, 'RIFF size matches the file')
  const audio = parseWav(buf)
  const durationMs = audio.samples.length * 1000 / audio.sampleRate
  const sentMs = (framesAtKill - framesAtStart) * 20
  t.ok(durationMs >= sentMs - MAX_LOSS_MS, `kept ${durationMs} ms of the ${sentMs} ms sent while recording (at most ${MAX_LOSS_MS} ms lost)`)
  t.ok(audio.samples.some((s) => Math.abs(s) > 1000), 'it is the caller\'s speech, not silence')

  const { logger } = logSink()
  const store = await openCallStore(recordsSchema.parse({ dataDir }), { logger, configDir: dir, env: {} })
  t.teardown(() => store.close())
  const streamRecord = await store.get(streamCall.uuid)
  t.match(streamRecord, { outcome: 'interrupted', messages: [{ status: 'recovered', recordingPath: path, number: '+393331234567' }] })
  t.equal(streamRecord?.messages[0]?.durationMs, Math.round(durationMs), 'the row has the recovered length')

  const filesRecord = await store.get(filesCall.uuid)
  const filesPath = filesRecord?.messages[0]?.recordingPath
  t.match(filesRecord, { outcome: 'interrupted', messages: [{ status: 'recovered', number: '+393331234567' }] }, 'files mode: the row existed before FreeSWITCH\'s record ran')
  t.ok(filesPath !== null && filesPath !== undefined && filesPath.includes(filesCall.uuid))
  if (typeof filesPath === 'string') {
    const written = parseWav(await readFile(filesPath))
    t.ok(written.samples.length > 0, 'FreeSWITCH closed its file when the channel went down')
    t.equal(filesRecord?.messages[0]?.durationMs, Math.round(written.samples.length / 8), 'and the row has its length')
  }
})
