import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { runCallsCommand } from '../../lib/cli/calls.ts'
import { MessageTable, OutboxTable, purgedAt } from '../../lib/records/owner-sql.ts'
import { retentionSchema } from '../../lib/retention/config.ts'
import { RetentionService } from '../../lib/retention/retention.ts'
import { textSink } from '../records/helpers.ts'
import { captureLogs } from '../helpers/logs.ts'
import { messageWav, recordCall, tempStore } from './helpers.ts'

const DAY = 86_400_000

t.test('retention on a fake clock: old audio and transcripts deleted and the record says so; older records deleted; recent ones kept', async (t) => {
  let now = Date.UTC(2026, 5, 1, 12)
  const db = await tempStore(() => now)
  t.teardown(async () => { await db.cleanup() })
  const recordings = join(db.dir, 'recordings')
  const turns = [{ role: 'caller' as const, text: 'my private matter' }, { role: 'agent' as const, text: 'noted' }]
  const oldWav = await messageWav(db.dir, 'old.wav')
  const ancientWav = await messageWav(db.dir, 'ancient.wav')
  const recentWav = await messageWav(db.dir, 'recent.wav')
  await recordCall(db.store, { uuid: 'old', startedAt: now - 40 * DAY, turns, message: { text: 'call me', recordingPath: oldWav }, cost: 0.5 })
  await recordCall(db.store, { uuid: 'ancient', startedAt: now - 400 * DAY, turns, message: { text: 'long ago', recordingPath: ancientWav } })
  await recordCall(db.store, { uuid: 'recent', startedAt: now - DAY, turns, message: { text: 'yesterday', recordingPath: recentWav } })
  const outside = await messageWav(join(db.dir, 'elsewhere'), 'outside.wav')
  await recordCall(db.store, { uuid: 'outside', startedAt: now - 40 * DAY, message: { text: 'x', recordingPath: outside } })
  const messages = new MessageTable(db.store.sql)
  await messages.queueTranscripts('old')
  await messages.setTranscript('old', 1, 'done', 'the transcript of the old message')
  await new OutboxTable(db.store.sql).add({ id: 'ancient:webhook', channel: 'webhook', kind: 'call', ref: 'ancient', at: now - 400 * DAY })

  const { logger, records } = captureLogs()
  const retention = new RetentionService({ sql: db.store.sql, config: retentionSchema.parse({ days: 30, recordsDays: 365 }), recordingsDir: recordings, logger, now: () => now })
  t.same(await retention.run(), { purged: 2, deleted: 1, filesDeleted: 2 })

  t.notOk(existsSync(oldWav), 'old message audio deleted')
  t.notOk(existsSync(ancientWav))
  t.ok(existsSync(recentWav), 'recent audio kept')
  t.ok(existsSync(outside), 'a file outside the recordings directory is never deleted')
  t.ok(records.some((r) => r.msg === 'retention: a recording outside the recordings directory left in place'))

  const old = await db.store.get('old')
  t.match(old, { outcome: 'message_taken', costEstimate: 0.5, turns: [], messages: [{ text: '', recordingPath: null }] }, 'who, when, outcome and cost stay; content goes')
  t.equal(await purgedAt(db.store.sql, 'old'), now, 'the record says when')
  t.same((await messages.extras('old')).map((e) => e.transcript), [null], 'voicemail transcript deleted')
  t.equal(await db.store.get('ancient'), undefined, 'past recordsDays the record goes')
  t.same(await new OutboxTable(db.store.sql).forRef('ancient'), [], 'with its outbox rows')
  t.match(await db.store.get('recent'), { turns: [{ text: 'my private matter' }, { text: 'noted' }], messages: [{ text: 'yesterday' }] })
  t.equal(await purgedAt(db.store.sql, 'recent'), null)

  const sink = textSink()
  await runCallsCommand(['show', 'old'], { store: db.store, out: sink.out, purgedAt: async (u) => await purgedAt(db.store.sql, u) })
  t.match(sink.text(), /Audio and transcripts deleted by retention on 2026-06-01T12:00:00\.000Z/)

  t.same(await retention.run(), { purged: 0, deleted: 0, filesDeleted: 0 }, 'a second run finds nothing')
  now += 30 * DAY
  t.same(await retention.run(), { purged: 1, deleted: 0, filesDeleted: 1 }, 'time moves on: yesterday\'s call is now past 30 days')
  t.notOk(existsSync(recentWav))
})

t.test('retention off by default; recordsDays may not be shorter than days', async (t) => {
  const db = await tempStore()
  t.teardown(async () => { await db.cleanup() })
  const r = new RetentionService({ sql: db.store.sql, config: retentionSchema.parse({}), recordingsDir: db.dir, logger: captureLogs().logger })
  t.equal(r.enabled, false)
  r.start()
  await r.stop()
  const bad = retentionSchema.safeParse({ days: 30, recordsDays: 7 })
  t.equal(bad.success, false)
  t.same(bad.error?.issues[0]?.path, ['recordsDays'])
})
