import type { Logger } from 'pino'
import type { Test } from 'tap'
import type { AdmissionStore } from '../../lib/guard/store.ts'
import { captureLogs } from '../helpers/logs.ts'

/** A pino logger whose records land in an array, to assert on whole log lines. */
export function logSink (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const { logger, records } = captureLogs('info')
  return { logger, lines: records }
}

/** max 3, 1 reserved: two strangers fill the general slots; a contact takes the reserve. */
export async function checkReserve (t: Test, store: AdmissionStore): Promise<void> {
  const general = { reserved: 1, contact: false }
  const contact = { reserved: 1, contact: true }
  t.ok(await store.acquire('c1', 3, contact), 'a contact on the line...')
  t.ok(await store.acquire('g1', 3, general))
  t.ok(await store.acquire('g2', 3, general), '...uses the reserve, so two strangers still fit')
  t.notOk(await store.acquire('g3', 3, general), 'a third stranger does not')
  await store.release('c1')
  t.notOk(await store.acquire('g3', 3, general), 'nor once the contact has gone: that slot is reserved')
  t.ok(await store.acquire('c2', 3, contact), 'a contact takes it')
  t.notOk(await store.acquire('c3', 3, contact), 'and beyond max nobody gets in')
  t.ok(await store.acquire('c2', 3, contact), 'asking again keeps the slot')
  t.equal(await store.active(), 3)
  for (const uuid of ['g1', 'g2', 'c2']) await store.release(uuid)
  t.equal(await store.active(), 0)
  t.ok(await store.acquire('g4', 3), 'without a reserve every slot is general')
  await store.release('g4')
}
