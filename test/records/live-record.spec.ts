import t from 'tap'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { openCallStore } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { captureLogs } from '../helpers/logs.ts'

const DID = '+390212345678'
const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))

t.test('a call the dialplan answered before our socket has its answer time in the record', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-live-'))
  const records = await openCallStore(recordsSchema.parse({ dataDir: dir }), { logger: captureLogs().logger, configDir: dir, env: {} })
  t.teardown(async () => { await records.close() })
  const { port } = await startTestAgent(t, {
    scripts: { verbs: { module: verbs } },
    routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'hangup' }] } } },
  }, { records })
  const before = Date.now()
  const result = await new FakeFreeSwitch().placeCall({ port, destination: DID, answeredBeforeSocket: true }).ended
  t.notOk(result.apps.some((a) => a.name === 'answer'), 'nothing to answer')
  await records.flush()
  const detail = await records.get(result.uuid)
  t.ok(detail?.answeredAt !== null && detail!.answeredAt! >= before - 1000, 'answered_at set from the connect reply')
})

t.test('a record left open by a crash ends near when the call really stopped, not at its start', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-live-'))
  const options = { logger: captureLogs().logger, configDir: dir, env: {} }
  const first = await openCallStore(recordsSchema.parse({ dataDir: dir }), options)
  const started = Date.now()
  first.begin({ uuid: 'crash-1', did: DID, startedAt: started })
  // The process "dies" 2.5 s into the call: the heartbeat has touched the record meanwhile.
  await delay(2500)
  await first.flush()
  await first.close()
  const second = await openCallStore(recordsSchema.parse({ dataDir: dir }), options)
  t.teardown(async () => { await second.close() })
  t.equal(await second.recoverInterrupted(), 1)
  const detail = await second.get('crash-1')
  t.equal(detail?.outcome, 'interrupted')
  t.ok((detail?.endedAt ?? 0) - started >= 1500, `the interrupted record lasts ${(detail?.endedAt ?? 0) - started} ms, not 0`)
})
