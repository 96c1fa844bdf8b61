import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import pg from 'pg'
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from '../../lib/records/migrations.ts'
import { openPgDriver } from '../../lib/records/pg-driver.ts'
import { openSqliteDriver } from '../../lib/records/sqlite-driver.ts'
import type { SqlDriver } from '../../lib/records/sql.ts'
import { openSqlCallStore } from '../../lib/records/store.ts'
import { logSink } from './helpers.ts'
import { pgUnavailableReason, startPgCluster } from './pg-cluster.ts'

t.test('migration numbers are unique, increasing from 1', async (t) => {
  t.same(MIGRATIONS.map((m) => m.version), Array.from({ length: MIGRATIONS.length }, (_, i) => i + 1))
  t.equal(LATEST_SCHEMA_VERSION, MIGRATIONS.length)
})

const broken: Migration = { version: LATEST_SCHEMA_VERSION + 1, name: 'broken', statements: ['CREATE TABLE half_done (x INTEGER)', 'THIS IS NOT SQL'] }

async function versions (driver: SqlDriver): Promise<number[]> {
  return (await driver.all('SELECT version FROM schema_migrations ORDER BY version', [])).map((r) => Number(r.version))
}

function migrationContract (t: Test, fresh: () => Promise<SqlDriver>, tableExists: (d: SqlDriver, name: string) => Promise<boolean>): void {
  t.test('applied in order at open, once', async (t) => {
    const driver = await fresh()
    t.teardown(() => driver.close())
    t.same(await driver.migrate(MIGRATIONS.slice(0, 1)), [1], 'an old release applied only the first')
    t.same(await driver.migrate(MIGRATIONS), MIGRATIONS.slice(1).map((m) => m.version), 'the upgrade applies the rest')
    t.same(await driver.migrate(MIGRATIONS), [], 'idempotent')
    t.same(await versions(driver), MIGRATIONS.map((m) => m.version))
    for (const table of ['calls', 'call_turns', 'call_latency', 'call_messages', 'call_errors']) t.ok(await tableExists(driver, table), table)
  })

  t.test('a failing migration leaves nothing half applied', async (t) => {
    const driver = await fresh()
    t.teardown(() => driver.close())
    await t.rejects(driver.migrate([...MIGRATIONS, broken]))
    t.notOk(await tableExists(driver, 'half_done'), 'its first statement was rolled back')
    t.same(await versions(driver), MIGRATIONS.map((m) => m.version), 'earlier migrations stay applied')
  })

  t.test('a database from a newer release is refused', async (t) => {
    const driver = await fresh()
    await driver.migrate(MIGRATIONS)
    await driver.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [99, 'future', 0])
    await t.rejects(openSqlCallStore({ driver, instance: 'x', logger: logSink().logger }),
      { code: 'CONFIG_INVALID', message: /schema is version 99/ })
    await t.rejects(driver.all('SELECT 1', []), 'the driver was closed')
  })

  t.test('open logs what it migrated', async (t) => {
    const driver = await fresh()
    const { logger, lines } = logSink()
    const store = await openSqlCallStore({ driver, instance: 'x', logger })
    t.teardown(() => store.close())
    t.match(lines.find((l) => l.msg === 'call record schema migrated'), { level: 30, applied: [1, 2] })
  })
}

t.test('SQLite', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'phone-agent-mig-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  let n = 0
  migrationContract(t, async () => openSqliteDriver(join(dir, `m${++n}.db`)), async (d, name) =>
    (await d.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", [name])).length === 1)
})

const pgSkip = pgUnavailableReason()
t.test('PostgreSQL', { skip: pgSkip === undefined ? false : `PostgreSQL tests skipped: ${pgSkip}` }, async (t) => {
  const cluster = await startPgCluster()
  t.teardown(() => cluster.stop())
  let n = 0
  migrationContract(t, async () => {
    const name = `mig_${++n}`
    const admin = new pg.Client({ connectionString: cluster.url })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    await admin.end()
    return openPgDriver({ connectionString: cluster.url.replace(/\/postgres$/, `/${name}`), poolMax: 2, onIdleError: () => {} })
  }, async (d, name) => (await d.all('SELECT 1 FROM information_schema.tables WHERE table_name = ?', [name])).length === 1)
})
