import t from 'tap'
import pg from 'pg'
import { openCallStore } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { MIGRATIONS } from '../../lib/records/migrations.ts'
import { storeContract } from './contract.ts'
import { logSink, leakedHandlesSettled } from './helpers.ts'
import { pgUnavailableReason, startPgCluster } from './pg-cluster.ts'

const unavailable = pgUnavailableReason()
if (unavailable !== undefined) {
  t.plan(0, `PostgreSQL tests skipped: ${unavailable}`)
} else {
  const cluster = await startPgCluster()
  t.teardown(() => cluster.stop())

  // Each store gets its own database, so contract tests start empty.
  let n = 0
  const freshDatabase = async (): Promise<string> => {
    const name = `contract_${++n}`
    const admin = new pg.Client({ connectionString: cluster.url })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    await admin.end()
    return cluster.url.replace(/\/postgres$/, `/${name}`)
  }
  const config = recordsSchema.parse({ driver: 'postgres', instance: 'test-1' })

  storeContract(t, async () => {
    const url = await freshDatabase()
    return await openCallStore(config, { logger: logSink().logger, configDir: '/', env: { PHONE_AGENT_DATABASE_URL: url } })
  })

  t.test('recovery only touches this instance\'s records', async (t) => {
    const url = await freshDatabase()
    const env = { PHONE_AGENT_DATABASE_URL: url }
    const a = await openCallStore({ ...config, instance: 'a' }, { logger: logSink().logger, configDir: '/', env })
    const b = await openCallStore({ ...config, instance: 'b' }, { logger: logSink().logger, configDir: '/', env })
    t.teardown(async () => { await a.close(); await b.close() })
    a.begin({ uuid: 'on-a', did: '+391' })
    b.begin({ uuid: 'on-b', did: '+391' })
    await Promise.all([a.flush(), b.flush()])
    t.equal(await a.recoverInterrupted(), 1)
    t.equal((await a.get('on-a'))?.outcome, 'interrupted')
    t.equal((await a.get('on-b'))?.outcome, null, 'a live call of another instance stays open')
  })

  t.test('open messages: each instance settles only its own (another may be recording now)', async (t) => {
    const url = await freshDatabase()
    const env = { PHONE_AGENT_DATABASE_URL: url }
    const a = await openCallStore({ ...config, instance: 'a' }, { logger: logSink().logger, configDir: '/', env })
    const b = await openCallStore({ ...config, instance: 'b' }, { logger: logSink().logger, configDir: '/', env })
    t.teardown(async () => { await a.close(); await b.close() })
    a.begin({ uuid: 'msg-a', did: '+391' }).message({ text: '', recordingPath: '/r/a.wav', status: 'recording' })
    b.begin({ uuid: 'msg-b', did: '+391' }).message({ text: '', recordingPath: '/r/b.wav', status: 'recording' })
    await a.flush()
    await b.flush()
    t.same(await a.openMessages(), [{ callUuid: 'msg-a', seq: 1, recordingPath: '/r/a.wav' }])
    t.same(await b.openMessages(), [{ callUuid: 'msg-b', seq: 1, recordingPath: '/r/b.wav' }])
  })

  t.test('several instances opening a fresh database at once migrate it once', async (t) => {
    const url = await freshDatabase()
    const env = { PHONE_AGENT_DATABASE_URL: url }
    const stores = await Promise.all([1, 2, 3, 4].map(async (i) =>
      await openCallStore({ ...config, instance: `i${i}` }, { logger: logSink().logger, configDir: '/', env })))
    t.teardown(async () => { for (const s of stores) await s.close() })
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const rows = (await client.query('SELECT version FROM schema_migrations ORDER BY version')).rows
    await client.end()
    t.same(rows.map((r: { version: number }) => r.version), MIGRATIONS.map((m) => m.version))
  })

  t.test('a missing URL variable names the variable', async (t) => {
    await t.rejects(openCallStore(config, { logger: logSink().logger, configDir: '/', env: {} }),
      { code: 'CONFIG_INVALID', field: 'records.postgres.urlEnv', message: /PHONE_AGENT_DATABASE_URL is not set/ })
  })

  t.test('no timers, sockets or servers left behind', async (t) => {
    // Closed handles leave libuv's list a loop iteration or two after their close callbacks.
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.same(await leakedHandlesSettled(), [])
  })

  t.test('an unreachable server fails at open without leaking the URL', async (t) => {
    const env = { PHONE_AGENT_DATABASE_URL: 'postgres://user:s3cret@127.0.0.1:1/x' }
    const err = await openCallStore(config, { logger: logSink().logger, configDir: '/', env }).catch((e: unknown) => e)
    t.match(err, { code: 'CONFIG_INVALID', field: 'records.postgres.urlEnv' })
    t.notMatch((err as Error).message, /s3cret/)
  })
}
