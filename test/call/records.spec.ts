import t, { type Test } from 'tap'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { openCallStore } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { captureLogs } from '../helpers/logs.ts'
import { toneWav } from '../helpers/speaker.ts'

const DID = '+390212345678'
const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))

async function store (t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'pa-records-'))
  const s = await openCallStore(recordsSchema.parse({ dataDir: dir }), { logger: captureLogs().logger, configDir: dir, env: {} })
  t.teardown(async () => { await s.close() })
  return s
}

t.test('every call leaves a record: message taken, rejected, unknown DID, failed', async (t) => {
  const records = await store(t)
  const { port } = await startTestAgent(t, {
    scripts: { verbs: { module: verbs } },
    // One unit per character of synthesised speech, so the estimate is easy to check.
    speech: { pricing: { currency: 'EUR', tts: { offline: { perMillionCharacters: 1_000_000 } } } },
    routes: {
      [DID]: { script: 'take-message' },
      '+390211111111': { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'throw' }] } },
    },
  }, { records })
  const fs = new FakeFreeSwitch()
  const message = await fs.placeCall({
    port, destination: DID, callerNumber: '+393331234567', callerName: 'Mario Rossi',
    caller: { audio: [{ atMs: 600, wav: toneWav(800, 8000, 300, 12000) }] },
  }).ended
  const anonymous = await fs.placeCall({ port, destination: DID, callerNumber: 'anonymous' }).ended
  const unknown = await fs.placeCall({ port, destination: '+390299999999', callerNumber: '+393331234567' }).ended
  const failed = await fs.placeCall({ port, destination: '+390211111111', callerNumber: '+393337654321' }).ended
  await records.flush()

  const m = await records.get(message.uuid)
  t.match(m, { did: DID, callerNumber: '+393331234567', callerName: 'Mario Rossi', script: 'take-message', outcome: 'message_taken', hangupCause: 'NORMAL_CLEARING' })
  t.ok(m?.answeredAt, 'answer time recorded')
  t.equal(m?.messages.length, 1)
  t.equal(m?.messages[0]?.recordingPath, message.recordings[0]?.path, 'the message points at the recording')
  t.ok((m?.ttsCharacters ?? 0) > 50, 'characters synthesised for the greeting and the thanks are counted')
  t.equal(m?.costEstimate, m?.ttsCharacters, 'and priced from speech.pricing')

  t.match(await records.get(anonymous.uuid), { outcome: 'rejected', rejectionReason: 'anonymous', answeredAt: null })
  t.match(await records.get(unknown.uuid), { outcome: 'rejected', rejectionReason: 'unknown_did', hangupCause: 'UNALLOCATED_NUMBER' })
  t.match(await records.get(failed.uuid), { outcome: 'failed', errorCode: 'SCRIPT_FAILED' })
  t.equal((await records.list()).length, 4)
})
