import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openCallStore } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { callFiles, callRecordingPath, purgeStatements } from '../../lib/records/owner-sql.ts'
import { recoverMessages } from '../../lib/records/recover-messages.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { WAV_PLACEHOLDER_SIZE } from '../../lib/media/wav-writer.ts'
import { captureLogs } from '../helpers/logs.ts'
import { pgUnavailableReason, startPgCluster } from './pg-cluster.ts'

/** Migration 5 (calls.recording_path, recording_ms) and its statements on a real PostgreSQL. */
const unavailable = pgUnavailableReason()
if (unavailable !== undefined) {
  t.plan(0, `PostgreSQL tests skipped: ${unavailable}`)
} else {
  const cluster = await startPgCluster()
  t.teardown(() => cluster.stop())

  t.test('whole-call recording path, length, crash recovery, retention statements on PostgreSQL', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'pa-rec-pg-'))
    const store = await openCallStore(recordsSchema.parse({ driver: 'postgres', instance: 'pg-rec' }), { logger: captureLogs().logger, configDir: '/', env: { PHONE_AGENT_DATABASE_URL: cluster.url } })
    t.teardown(async () => { await store.close(); await rm(dir, { recursive: true, force: true }) })
    const done = store.begin({ uuid: 'r1', did: '+390212345678', recordingPath: join(dir, 'r1-call.wav') })
    await done.end({ outcome: 'completed', recording: { durationMs: 1234 } })
    t.match(await store.get('r1'), { recordingPath: join(dir, 'r1-call.wav'), recordingMs: 1234 })
    const none = store.begin({ uuid: 'r2', did: '+390212345678', recordingPath: join(dir, 'r2-call.wav') })
    await none.end({ outcome: 'rejected', recording: null })
    t.match(await store.get('r2'), { recordingPath: null, recordingMs: null }, 'no recording made: the path is cleared')

    // A crash: the record open with a path, the file with placeholder sizes.
    const crashed = join(dir, 'r3-call.wav')
    const wav = encodeWav({ sampleRate: 8000, channels: 2, samples: new Int16Array(1600) })
    wav.writeUInt32LE(WAV_PLACEHOLDER_SIZE, 4)
    wav.writeUInt32LE(WAV_PLACEHOLDER_SIZE, 40)
    await writeFile(crashed, wav)
    store.begin({ uuid: 'r3', did: '+390212345678', recordingPath: crashed })
    await store.flush()
    await store.recoverInterrupted()
    await recoverMessages(store, join(dir, 'recordings'), captureLogs().logger)
    t.match(await store.get('r3'), { outcome: 'interrupted', recordingPath: crashed, recordingMs: 100 }, 'start-up repaired it and stored its length')

    t.same(await callFiles(store.sql, 'r1'), [join(dir, 'r1-call.wav')], 'retention sees the recording')
    await store.sql.transaction(purgeStatements('r1', Date.now()))
    t.equal(await callRecordingPath(store.sql, 'r1'), null, 'and a purge clears it')
  })
}
