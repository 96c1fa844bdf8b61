import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openCallStore, sqlitePath } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { storeContract } from './contract.ts'
import { logSink, leakedHandlesSettled } from './helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'phone-agent-sqlite-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

let n = 0
storeContract(t, async () => {
  const config = recordsSchema.parse({ dataDir: `db-${++n}`, instance: 'test-1' })
  return await openCallStore(config, { logger: logSink().logger, configDir: dir, env: {} })
})

t.test('the database file lives under the data directory, relative to the config file', async (t) => {
  const config = recordsSchema.parse({})
  t.equal(config.driver, 'sqlite')
  t.equal(sqlitePath(config, '/etc/phone-agent'), '/etc/phone-agent/data/calls.db')
  t.equal(sqlitePath(recordsSchema.parse({ dataDir: '/var/lib/phone-agent' }), '/etc/x'), '/var/lib/phone-agent/calls.db')
})

t.test('an unopenable path fails with CONFIG_INVALID', async (t) => {
  writeFileSync(join(dir, 'a-file'), '')
  const config = recordsSchema.parse({ dataDir: 'a-file/data' })
  await t.rejects(openCallStore(config, { logger: logSink().logger, configDir: dir, env: {} }), { code: 'CONFIG_INVALID' })
})

t.test('no timers, sockets or servers left behind', async (t) => {
  // Closed handles leave libuv's list a loop iteration or two after their close callbacks.
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(await leakedHandlesSettled(), [])
})
