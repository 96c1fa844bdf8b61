import t from 'tap'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeWav, parseWavLayout } from '../../lib/media/wav.ts'
import { WAV_PLACEHOLDER_SIZE } from '../../lib/media/wav-writer.ts'
import { openCallStore } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { recoverMessages } from '../../lib/records/recover-messages.ts'
import { logSink } from './helpers.ts'

/** What a recorder killed mid-message leaves: placeholder sizes over `samples` of audio. */
function crashedWav (samples: number): Buffer {
  const buf = encodeWav({ sampleRate: 8000, channels: 1, samples: Int16Array.from({ length: samples }, (_, i) => i % 1000) })
  buf.writeUInt32LE(WAV_PLACEHOLDER_SIZE, 4)
  buf.writeUInt32LE(WAV_PLACEHOLDER_SIZE, 40)
  return buf
}

t.test('start-up recovery: rows settled from their files, orphans repaired, strangers left alone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-recover-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const recordings = join(dir, 'sounds', 'recordings')
  const day = (d: string): string => join(recordings, d)
  for (const d of ['2026-11-28', '2026-11-30', '2026-12-01']) await mkdir(day(d), { recursive: true })
  const file = (d: string, name: string): string => join(day(d), name)

  const store = await openCallStore(recordsSchema.parse({ dataDir: join(dir, 'data') }), { logger: logSink().logger, configDir: dir, env: {} })
  t.teardown(() => store.close())
  const rec = store.begin({ uuid: 'c-1', did: '+391' })
  const rows = {
    good: file('2026-12-01', 'c-1-1.wav'),
    missing: file('2026-12-01', 'c-1-2.wav'),
    garbage: file('2026-12-01', 'c-1-3.wav'),
    silent: file('2026-12-01', 'c-1-4.wav'),
    finished: file('2026-12-01', 'c-1-5.wav'),
  }
  for (const path of Object.values(rows)) rec.message({ text: '', recordingPath: path, status: 'recording' })
  rec.message({ text: '', recordingPath: rows.finished, durationMs: 100 })
  await store.flush()
  await writeFile(rows.good, crashedWav(12_000))
  await writeFile(rows.garbage, 'not audio')
  await writeFile(rows.silent, crashedWav(0))
  await writeFile(rows.finished, encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(800) }))
  // Not messages: an orphan from yesterday, a stranger, and one in a folder too old to scan.
  const orphan = file('2026-11-30', 'x-1.wav')
  const stranger = file('2026-11-30', 'notes.wav')
  const old = file('2026-11-28', 'y-1.wav')
  await writeFile(orphan, crashedWav(4000))
  await writeFile(stranger, 'hello')
  await writeFile(old, crashedWav(4000))

  const { logger, lines } = logSink()
  const result = await recoverMessages(store, recordings, logger)
  t.same(result, { recovered: 1, lost: 3, orphansRepaired: 1 })

  const call = await store.get('c-1')
  t.same(call?.messages.map((m) => [m.recordingPath, m.status, m.durationMs]), [
    [rows.good, 'recovered', 1500],
    [rows.missing, 'lost', null],
    [rows.garbage, 'lost', null],
    [rows.silent, 'lost', null],
    [rows.finished, 'complete', 100],
  ])
  const good = await readFile(rows.good)
  t.match(parseWavLayout(good), { declaredDataBytes: 24_000, declaredRiffBytes: good.length - 8 }, 'the message is playable')
  t.match(parseWavLayout(await readFile(orphan)), { declaredDataBytes: 8000 }, 'the orphan in a recent folder too')
  t.equal(parseWavLayout(await readFile(old)).declaredDataBytes, WAV_PLACEHOLDER_SIZE, 'older folders are not read')
  t.equal(await readFile(rows.garbage, 'utf8'), 'not audio', 'a file that is not a WAV is left alone')
  t.equal(await readFile(stranger, 'utf8'), 'hello')

  t.match(lines.filter((l) => l.level === 40).map((l) => [l.msg, l.reason ?? l.path]), [
    ['message being recorded when the last run stopped recovered', rows.good],
    ['message being recorded when the last run stopped is lost', 'no file'],
    ['file in the recordings directory is not a WAV; left alone', /not a RIFF/],
    ['message being recorded when the last run stopped is lost', /not a RIFF/],
    ['message being recorded when the last run stopped is lost', 'no audio'],
    ['file in the recordings directory is not a WAV; left alone', /not a RIFF/],
  ])
  t.match(lines.find((l) => l.msg === 'recording left unfinished by the last run repaired'), { level: 30, path: orphan, durationMs: 500 })

  t.same(await recoverMessages(store, recordings, logSink().logger), { recovered: 0, lost: 0, orphansRepaired: 0 }, 'a second start-up finds nothing to do')
  t.same(await recoverMessages(store, join(dir, 'nowhere'), logSink().logger), { recovered: 0, lost: 0, orphansRepaired: 0 }, 'no recordings directory yet')
})
