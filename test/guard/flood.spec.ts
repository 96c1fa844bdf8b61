import t from 'tap'
import { createAdmissionGuard, type AdmissionVerdict } from '../../lib/guard/admission.ts'
import { guardSchema } from '../../lib/guard/config.ts'
import { logSink } from './helpers.ts'

// A public number under attack: 1,000 INVITEs from withheld, malformed, foreign, satellite
// and one spoofed home number, arriving all at once with default limits. Every one is refused
// before answering, and a real caller dialling in the middle of it gets through.

const DID = '+390212345600'

function floodCaller (i: number): { callerNumber: string, did: string } {
  switch (i % 8) {
    case 0: return { callerNumber: 'anonymous', did: DID }
    case 1: return { callerNumber: '', did: DID }
    case 2: return { callerNumber: `+882${String(10_000_000 + i)}`, did: DID }
    case 3: return { callerNumber: `+9647${String(100_000_000 + i)}`, did: DID }
    case 4: return { callerNumber: `sipvicious${i}`, did: DID }
    case 5: return { callerNumber: '0000000000', did: DID }
    // A home number relaying to a DID we do not serve.
    case 6: return { callerNumber: `+3906${String(10_000_000 + i)}`, did: '+390299999999' }
    // One spoofed home number hammering our DID: its own per-caller limit stops it.
    default: return { callerNumber: '+390612345678', did: DID }
  }
}

t.test('1,000 spoofed and anonymous calls are refused while a legitimate caller is admitted', async (t) => {
  const { logger } = logSink()
  const guard = createAdmissionGuard(guardSchema.parse({}), { defaultCountry: 'IT', servedDids: (d) => d === DID, logger })
  const flood: Array<Promise<AdmissionVerdict>> = []
  for (let i = 0; i < 1000; i++) {
    flood.push(guard.admit({ uuid: `flood-${i}`, ...floodCaller(i) }))
    if (i === 500) flood.push(guard.admit({ uuid: 'legit', callerNumber: '3331234567', did: DID }))
  }
  const verdicts = await Promise.all(flood)
  const legit = verdicts.splice(501, 1)[0]
  t.ok(legit?.admitted, 'the legitimate caller is admitted')
  t.equal(verdicts.length, 1000)
  const admittedFlood = verdicts.filter((v) => v.admitted)
  // The spoofed home number gets its per-minute allowance (3 by default) like any caller;
  // everything else is refused outright.
  t.ok(admittedFlood.length <= guardSchema.parse({}).rates.perCallerPerMinute, `at most the per-caller allowance got through (${admittedFlood.length})`)
  const reasons = new Map<string, number>()
  for (const v of verdicts) if (!v.admitted) reasons.set(v.reason, (reasons.get(v.reason) ?? 0) + 1)
  t.equal(reasons.get('anonymous'), 375, 'anonymous, empty and all-zero caller IDs')
  t.equal(reasons.get('prefix_not_allowed'), 250, 'satellite and foreign callers')
  t.equal(reasons.get('malformed_caller'), 125)
  t.equal(reasons.get('unknown_did'), 125)
  t.equal(reasons.get('rate_caller_minute'), 125 - admittedFlood.length)
  t.notOk(reasons.has('rate_global'), 'junk never used up the global budget')
  t.notOk(reasons.has('capacity'))

  for (const v of [...admittedFlood, legit]) if (v?.admitted) v.release()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(await guard.active(), 0)
  await guard.close()
})
