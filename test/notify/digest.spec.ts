import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildConfig } from '../../lib/config/load.ts'
import { localDay, midnight, nextDay } from '../../lib/notify/digest.ts'
import { startOwnerServices } from '../../lib/owner/services.ts'
import { captureLogs } from '../helpers/logs.ts'
import { recordCall, smtpSink, tempStore } from './helpers.ts'

const ZONE = 'Europe/Rome'

t.test('local days in a zone, DST included', async (t) => {
  t.equal(midnight('2026-01-09', ZONE), Date.UTC(2026, 0, 8, 23))
  t.equal(midnight('2026-07-09', ZONE), Date.UTC(2026, 6, 8, 22))
  t.equal(midnight(nextDay('2026-03-29'), ZONE) - midnight('2026-03-29', ZONE), 23 * 3_600_000, 'spring forward: a 23-hour day')
  t.equal(midnight(nextDay('2026-10-25'), ZONE) - midnight('2026-10-25', ZONE), 25 * 3_600_000, 'fall back: a 25-hour day')
  t.same(localDay(Date.UTC(2026, 0, 9, 23, 30), ZONE), { day: '2026-01-10', hour: 0 })
  t.equal(nextDay('2026-12-31'), '2027-01-01')
})

t.test('the digest: queued once at the configured hour on a fake clock, e-mailed with the day\'s figures, shown in the console', async (t) => {
  let now = Date.UTC(2026, 0, 10, 6, 59) // 07:59 in Rome
  const db = await tempStore(() => now)
  const smtp = await smtpSink()
  t.teardown(async () => { await smtp.close(); await db.cleanup() })
  const day = (h: number, m = 0): number => Date.UTC(2026, 0, 9, h - 1, m) // Rome local time on the 9th
  await recordCall(db.store, { uuid: 'a', startedAt: day(9), cost: 0.01 })
  await recordCall(db.store, { uuid: 'b', startedAt: day(10), message: { text: 'call back' }, cost: 0.02 })
  await recordCall(db.store, { uuid: 'c', startedAt: day(11), outcome: 'rejected', rejectionReason: 'anonymous' })
  await recordCall(db.store, { uuid: 'd', startedAt: day(12), outcome: 'rejected', rejectionReason: 'anonymous' })
  await recordCall(db.store, { uuid: 'e', startedAt: day(13), outcome: 'rejected', rejectionReason: 'rate_limit' })
  await recordCall(db.store, { uuid: 'f', startedAt: day(14), outcome: 'transferred' })
  await recordCall(db.store, { uuid: 'g', startedAt: day(15), outcome: 'failed', error: { code: 'LLM_TIMEOUT', message: 'slow', provider: 'openai' } })
  await recordCall(db.store, { uuid: 'late', startedAt: Date.UTC(2026, 0, 9, 23, 30), cost: 5 }) // 00:30 on the 10th in Rome
  await recordCall(db.store, { uuid: 'early', startedAt: Date.UTC(2026, 0, 8, 22, 30), cost: 7 }) // 23:30 on the 8th

  const config = buildConfig({
    routes: { '+390212345678': { script: 'take-message' } },
    notify: {
      email: { from: 'agent@example.com', to: ['owner@example.com'], when: 'failures', smtp: { host: '127.0.0.1', port: smtp.port } },
      digest: { enabled: true, hour: 8, timeZone: ZONE },
    },
    console: { timeZone: ZONE },
  }, process.cwd())
  const owner = await startOwnerServices(config, { store: db.store, logger: captureLogs().logger, env: {}, now: () => now })
  t.teardown(async () => { await owner.close() })
  t.equal(await owner.digest!.check(), undefined, 'before 08:00 nothing')
  now = Date.UTC(2026, 0, 10, 7, 0)
  t.equal(await owner.digest!.check(), '2026-01-09')
  t.equal(await owner.digest!.check(), undefined, 'once per day')
  for (let i = 0; i < 200 && smtp.mails.length === 0; i++) await new Promise((r) => setTimeout(r, 25))
  t.equal(smtp.mails.length, 1)
  const raw = smtp.mails[0]!.raw
  t.match(raw, /Subject: Phone digest 2026-01-09: 7 calls, 1 messages waiting/)
  for (const line of ['Calls: 7', '  completed: 1', '  message taken: 1', '  rejected: 3', 'Refused calls: 3', '  anonymous: 2', '  rate limit: 1', 'Transfers: 1', '  openai LLM_TIMEOUT: 1', 'Cost estimate: 0.0300']) {
    t.ok(raw.includes(line), line)
  }

  const restarted = await startOwnerServices(config, { store: db.store, logger: captureLogs().logger, env: {}, now: () => now + 3_600_000 })
  t.teardown(async () => { await restarted.close() })
  t.equal(await restarted.digest!.check(), undefined, 'a restart does not send the day again')

  const server = createServer((req, res) => { void owner.console!(req, res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)) })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const page = await (await fetch(`${url}/console/digest?day=2026-01-09`)).text()
  t.match(page, /Digest for 2026-01-09/)
  t.match(page, /<tr><th>Calls<\/th><td>7<\/td><\/tr>/)
  t.match(page, /<tr><td>anonymous<\/td><td>2<\/td><\/tr>/)
  t.match(await (await fetch(`${url}/console/digest`)).text(), /Digest for 2026-01-10/, 'today by default')
  t.equal((await fetch(`${url}/console/digest?day=../../x`)).status, 404)
})
