import t from 'tap'
import { openCallStore } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { callFiles, digestFigures, getState, MessageTable, OutboxTable, purgeStatements, deleteStatements, searchCalls, setState } from '../../lib/records/owner-sql.ts'
import { notifySchema, privacySchema } from '../../lib/notify/config.ts'
import { Notifier } from '../../lib/notify/notifier.ts'
import { captureLogs } from '../helpers/logs.ts'
import { pgUnavailableReason, startPgCluster } from '../records/pg-cluster.ts'
import { receiver, recordCall } from './helpers.ts'

/** The owner's SQL (migration 4, outbox, transcripts, search, digest, retention) on a real PostgreSQL. */
const unavailable = pgUnavailableReason()
if (unavailable !== undefined) {
  t.plan(0, `PostgreSQL tests skipped: ${unavailable}`)
} else {
  const cluster = await startPgCluster()
  t.teardown(() => cluster.stop())

  t.test('outbox, transcripts, done marks, search, digest figures and retention statements on PostgreSQL', async (t) => {
    const config = recordsSchema.parse({ driver: 'postgres', instance: 'pg-owner' })
    const store = await openCallStore(config, { logger: captureLogs().logger, configDir: '/', env: { PHONE_AGENT_DATABASE_URL: cluster.url } })
    const hook = await receiver()
    t.teardown(async () => { await hook.close(); await store.close() })
    const at = Date.UTC(2026, 0, 9, 10)
    await recordCall(store, { uuid: 'p1', startedAt: at, turns: [{ role: 'caller', text: '50% off_sale' }], message: { text: 'ring me', recordingPath: '/r/p1.wav' }, cost: 0.25 })
    await recordCall(store, { uuid: 'p2', startedAt: at + 1000, outcome: 'rejected', rejectionReason: 'anonymous' })
    await recordCall(store, { uuid: 'p3', startedAt: at + 2000, outcome: 'failed', error: { code: 'STT_TIMEOUT', message: 'x', provider: 'google' } })

    let now = at + 60_000
    const n = new Notifier(notifySchema.parse({ webhook: { url: hook.url }, retry: { firstDelaySeconds: 1 } }), privacySchema.parse({}),
      { store, logger: captureLogs().logger, env: { PHONE_AGENT_WEBHOOK_SECRET: 's' }, now: () => now, manual: true })
    t.teardown(async () => { await n.close() })
    await n.callEnded('p1')
    const outbox = new OutboxTable(store.sql)
    const [row] = await outbox.due(now, 10)
    t.match(row, { id: 'p1:webhook', status: 'pending', attempts: 0, createdAt: now })
    t.equal(await outbox.nextDueAt(), now)
    t.ok(await outbox.claim(row!, now + 1000))
    t.notOk(await outbox.claim(row!, now + 1000), 'a second worker cannot take the same row')
    now += 2000
    t.equal(await n.worker.runDue(), 1, 'the lease ran out: sent')
    t.match(await outbox.get('p1:webhook'), { status: 'sent', attempts: 1 })
    t.equal(JSON.parse(hook.received[0]!.body).call.uuid, 'p1')

    const messages = new MessageTable(store.sql)
    t.same((await messages.queueTranscripts('p1')).map((p) => [p.callUuid, p.seq, p.recordingPath]), [['p1', 1, '/r/p1.wav']])
    t.equal((await messages.pendingTranscripts()).length, 1)
    await messages.setTranscript('p1', 1, 'done', 'Ring me at ten')
    t.match(await messages.extras('p1'), [{ seq: 1, transcript: 'Ring me at ten', transcriptStatus: 'done', handledAt: null }])
    t.ok(await messages.setHandled('p1', 1, now))
    t.same(await messages.toReturn({ includeHandled: false, limit: 10 }), [])
    t.equal((await messages.toReturn({ includeHandled: true, limit: 10 }))[0]?.handledAt, now)

    t.same(await searchCalls(store.sql, '50%', 10), ['p1'])
    t.same(await searchCalls(store.sql, 'OFF_S', 10), ['p1'], 'case-insensitive, _ literal')
    t.same(await searchCalls(store.sql, '5_%', 10), [], '_ and % match only themselves')
    t.same(await searchCalls(store.sql, 'at ten', 10), ['p1'], 'voicemail transcripts searched')

    const f = await digestFigures(store.sql, at - 1, at + 86_400_000)
    t.match(f, { calls: 3, byOutcome: { message_taken: 1, rejected: 1, failed: 1 }, refusals: { anonymous: 1 }, providerErrors: [{ provider: 'google', code: 'STT_TIMEOUT', count: 1 }], messagesTaken: 1, messagesWaiting: 0 })
    t.equal(f.cost, 0.25)

    await setState(store.sql, 'k', 'a')
    await setState(store.sql, 'k', 'b')
    t.equal(await getState(store.sql, 'k'), 'b')

    t.same(await callFiles(store.sql, 'p1'), ['/r/p1.wav'])
    await store.sql.transaction(purgeStatements('p1', now))
    t.match(await store.get('p1'), { turns: [], messages: [{ text: '', recordingPath: null }] })
    await store.sql.transaction(deleteStatements('p1'))
    t.equal(await store.get('p1'), undefined)
    t.same(await outbox.forRef('p1'), [])
  })
}
