import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { admitCall } from '../../lib/call/admit.ts'
import { startPhoneAgent } from '../../lib/app.ts'
import { buildConfig } from '../../lib/config/load.ts'
import { PhoneAgentError } from '../../lib/errors.ts'
import type { Channel } from '../../lib/freeswitch/channel.ts'
import { createAdmissionGuard } from '../../lib/guard/admission.ts'
import { guardSchema } from '../../lib/guard/config.ts'
import { createMemoryStore, type AdmissionStore } from '../../lib/guard/store.ts'
import { nullRecorder } from '../../lib/records/null-recorder.ts'
import type { CallStart } from '../../lib/records/types.ts'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { withTestVad } from '../helpers/agent.ts'
import { captureLogs } from '../helpers/logs.ts'
import { toneSpeaker } from '../helpers/speaker.ts'

// Issue 15, finding 8: "7 calls were refused for `capacity` with a limit of 500 and 20 calls
// running". The capacity was never full. admitCall() turned every exception from the guard into
// a `capacity` refusal, and the guard throws the call's abort reason when the caller hangs up
// while admission runs (a Redis round trip, or a caller already gone when the call reached the
// runner). Those hang-ups were counted, logged and recorded as a full house.

const DID = '+390212345678'

function stubChannel (signal: AbortSignal, headers: Record<string, string> = {}): Channel {
  return {
    uuid: 'c0ffee00-0000-4000-8000-000000000001',
    signal,
    isUp: !signal.aborted,
    data: { headers: { 'Caller-Caller-ID-Number': '+393331234567', ...headers }, callerName: '', variables: {} },
  } as unknown as Channel
}

function guardWith (store: AdmissionStore, logger: Logger) {
  return createAdmissionGuard(guardSchema.parse({ capacity: { maxConcurrent: 500 }, rates: { globalPerSecond: 100 } }), { defaultCountry: 'IT', servedDids: () => true, logger, store })
}

t.test('a caller gone before admission is `hung_up`, not `capacity`', async (t) => {
  const { logger, records } = captureLogs()
  const store = createMemoryStore(guardSchema.parse({}).rates)
  const guard = guardWith(store, logger)
  t.teardown(() => guard.close())
  const ended = new AbortController()
  ended.abort(new PhoneAgentError('CALL_HANGUP', 'the caller hung up'))
  const v = await admitCall(stubChannel(ended.signal), guard, DID, logger)
  t.notOk(v.admitted)
  if (!v.admitted) t.equal(v.reason, 'hung_up')
  t.notOk(records.some((r) => r.msg === 'admission guard failed, refusing call'), 'no error logged for an ordinary hang-up')
  t.equal(await guard.active(), 0, 'no slot held')
})

t.test('a guard that fails refuses the call as `guard_error`, still fail-closed', async (t) => {
  const { logger, records } = captureLogs()
  const broken: AdmissionStore = {
    ...createMemoryStore(guardSchema.parse({}).rates),
    consume: async () => { throw new Error('store exploded') },
  }
  const guard = guardWith(broken, logger)
  const v = await admitCall(stubChannel(new AbortController().signal), guard, DID, logger)
  t.notOk(v.admitted)
  if (!v.admitted) {
    t.equal(v.reason, 'guard_error')
    t.equal(v.hangupCause, 'NORMAL_TEMPORARY_FAILURE')
  }
  t.ok(records.some((r) => r.msg === 'admission guard failed, refusing call' && r.level === 50))
})

t.test('end to end: callers hanging up during a slow admission are recorded as hung_up and hold no slot', async (t) => {
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-guard-'))
  const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))
  const config = buildConfig({
    language: 'it-IT',
    scripts: { verbs: { module: verbs } },
    routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'hangup' }] } } },
    server: { port: 0, commandTimeoutMs: 3000, lingerMs: 50 },
    media: withTestVad({ soundsDir, mode: 'files' }),
    guard: { capacity: { maxConcurrent: 500 }, rates: { globalPerSecond: 100 } },
  }, process.cwd())
  const { logger, records: logs } = captureLogs()
  // A store as slow as a Redis across a congested link: each caller gives up meanwhile (the
  // simulated caller hangs up as its count starts, and the count takes 200 ms more).
  const calls = new Map<string, { hangup: () => void }>()
  const memory = createMemoryStore(config.guard.rates)
  const slow: AdmissionStore = {
    ...memory,
    consume: async (caller, source) => {
      calls.get(caller)?.hangup()
      await new Promise((resolve) => setTimeout(resolve, 200))
      return await memory.consume(caller, source)
    },
  }
  const admission = guardWith(slow, logger)
  const rejected: string[] = []
  const outcomes: string[] = []
  const store = {
    begin: (start: CallStart) => ({
      ...nullRecorder(start.uuid),
      rejected: (reason: string) => { rejected.push(reason) },
      end: async (end: { outcome: string }) => { outcomes.push(end.outcome) },
    }),
  }
  const agent = await startPhoneAgent(config, { logger, speaker: toneSpeaker(soundsDir), admission, records: store })
  t.teardown(async () => {
    await agent.stop(5000)
    await admission.close()
    await rm(soundsDir, { recursive: true, force: true })
  })
  const fs = new FakeFreeSwitch()
  const results = await Promise.all(Array.from({ length: 7 }, async (_, i) => {
    const callerNumber = `+39333123450${i}`
    const call = fs.placeCall({ port: agent.server.port, destination: DID, callerNumber })
    calls.set(callerNumber, call)
    return await call.ended
  }))
  calls.clear()
  t.ok(results.every((r) => !r.answered), 'none answered')
  for (let i = 0; i < 50 && outcomes.length < 7; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(outcomes, Array(7).fill('caller_hung_up'), 'every one recorded as a hang-up, none as capacity')
  t.same(rejected, [], 'and none counted as a refusal')
  t.notOk(logs.some((l) => l.msg === 'admission guard failed, refusing call'))
  t.equal(logs.filter((l) => l.msg === 'caller hung up during admission').length, 7)
  t.equal(await admission.active(), 0, 'and no slot was left taken')
  const later = await fs.placeCall({ port: agent.server.port, destination: DID, callerNumber: '+393339999999' }).ended
  t.ok(later.answered, 'the next caller is admitted')
})
