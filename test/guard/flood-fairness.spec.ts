import t, { type Test } from 'tap'
import { mock } from 'node:test'
import { createAdmissionGuard, type AdmissionVerdict } from '../../lib/guard/admission.ts'
import { guardSchema, type GuardConfigInput } from '../../lib/guard/config.ts'
import { logSink } from './helpers.ts'

// Issue 15, finding 4: 500 INVITEs with spoofed home-country numbers (an allowed prefix) spent
// the global rate budget and the one real caller during the flood was refused. Here 1,000 such
// calls arrive over ten seconds (on a fake clock), each with a fresh random +39 number, and the
// real callers must get in. On the code before per-source limits and reserved slots, the real
// caller of each test is refused (rate_global).

const DID = '+390212345600'
const START = Date.parse('2026-12-01T10:00:00Z')
const FLOOD = 1000
const FLOOD_MS = 10_000

/** Deterministic random numbers (mulberry32): the flood is the same on every run. */
function randomNumbers (seed: number): () => string {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    const n = ((x ^ (x >>> 14)) >>> 0) % 1_000_000_000
    return `+393${String(n).padStart(9, '0')}`
  }
}

function setup (t: Test, input: GuardConfigInput, contacts: readonly string[] = []) {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: START })
  const { logger, lines } = logSink()
  const guard = createAdmissionGuard(guardSchema.parse(input), {
    defaultCountry: 'IT',
    servedDids: (d) => d === DID,
    logger,
    isKnownContact: (e164) => contacts.includes(e164),
  })
  t.teardown(async () => {
    await guard.close()
    mock.timers.reset()
  })
  return { guard, lines }
}

interface Attempt { readonly at: number, readonly sourceIp: string, readonly callerNumber: string, readonly real?: string }

/** The flood, one attempt every 10 ms from `sources` in turn, with the real callers slotted in. */
function schedule (sources: readonly string[], real: readonly Attempt[]): Attempt[] {
  const next = randomNumbers(15)
  const flood: Attempt[] = Array.from({ length: FLOOD }, (_, i) => ({ at: (i * FLOOD_MS) / FLOOD, sourceIp: sources[i % sources.length] ?? '', callerNumber: next() }))
  return [...flood, ...real].sort((a, b) => a.at - b.at)
}

/** Run the attempts in time order; admitted flood calls hold their slot (the attacker keeps them up). */
async function run (guard: ReturnType<typeof setup>['guard'], attempts: readonly Attempt[]) {
  const flood: AdmissionVerdict[] = []
  const real = new Map<string, AdmissionVerdict>()
  let now = 0
  let seq = 0
  for (const a of attempts) {
    mock.timers.tick(a.at - now)
    now = a.at
    const v = await guard.admit({ uuid: `call-${++seq}`, callerNumber: a.callerNumber, did: DID, sourceIp: a.sourceIp })
    if (a.real !== undefined) real.set(a.real, v)
    else flood.push(v)
  }
  const reasons = new Map<string, number>()
  for (const v of flood) {
    const r = v.admitted ? 'admitted' : v.reason
    reasons.set(r, (reasons.get(r) ?? 0) + 1)
  }
  return { flood, real, reasons }
}

t.test('a caller from another address gets through a 1,000-call flood from three addresses', async (t) => {
  const sources = ['203.0.113.1', '203.0.113.2', '203.0.113.3']
  // Capacity is not the point here (the next test is about it): room for every admitted call.
  const { guard, lines } = setup(t, { capacity: { maxConcurrent: 40 } })
  const attempts = schedule(sources, [
    { at: 4_505, sourceIp: '192.0.2.77', callerNumber: '+393471112233', real: 'mid-flood' },
    { at: 9_505, sourceIp: '2001:db8:5::7', callerNumber: '+390612345678', real: 'late, over IPv6' },
  ])
  const { flood, real, reasons } = await run(guard, attempts)
  for (const [name, v] of real) t.ok(v.admitted, `the ${name} caller is admitted (${v.admitted ? '' : v.reason})`)
  const { perSourceIpPerMinute: perSource, globalPerSecond } = guardSchema.parse({}).rates
  // Each address's allowance is used up in the flood's first 300 ms; of those 30 calls the
  // global budget of that first second admits 5. From then on the flood never reaches it.
  t.equal(reasons.get('rate_source_ip'), FLOOD - sources.length * perSource, 'all but each address\'s per-minute allowance was refused by source')
  t.equal(reasons.get('admitted'), globalPerSecond, 'the allowances met the global budget of the first second only')
  t.equal(reasons.get('rate_global'), sources.length * perSource - globalPerSecond)
  t.notOk(reasons.has('rate_caller_minute'))
  t.ok(flood.every((v) => v.admitted || v.fallback === undefined), 'a flooding source is refused, never handed to the fallback')

  const refusal = lines.find((l) => l.msg === 'call rejected' && l.reason === 'rate_source_ip')
  t.match(refusal, { level: 40, rule: 'guard.rates.perSourceIpPerMinute', limit: perSource, sourceIp: '203.0.113.1', hangupCause: 'CALL_REJECTED', fallback: null },
    'a refusal by rate is a warning naming the rule')
})

t.test('a known contact gets a reserved slot while a flood through the trunk fills the lines and spends the budget', async (t) => {
  const contact = '+393479876543'
  const trunk = '198.51.100.5'
  // The carrier's proxy is exempt from the per-source limit (every trunk call comes from it), so
  // nothing but the global budget stops spoofed numbers arriving through the carrier.
  const { guard, lines } = setup(t, {
    rates: { perSourceIpExempt: ['198.51.100.0/28'], whenLimited: 'fallback' },
    capacity: { maxConcurrent: 4, reservedForContacts: 1 },
  }, [contact])
  const attempts = schedule([trunk], [
    // Mid-second: the flood has spent this second's global budget.
    { at: 5_505, sourceIp: trunk, callerNumber: contact, real: 'contact' },
    { at: 5_506, sourceIp: trunk, callerNumber: '+393331231231', real: 'stranger' },
  ])
  const { flood, real, reasons } = await run(guard, attempts)
  t.equal(reasons.get('admitted'), 3, 'the flood took every general slot (4 - 1 reserved) and holds them')
  const handed = flood.filter((v) => !v.admitted && v.fallback !== undefined).length
  t.equal(handed, guardSchema.parse({}).rates.fallbackPerMinute, 'the fallback took the flood only up to its own budget a minute')
  t.ok((reasons.get('rate_global') ?? 0) > 0 && (reasons.get('capacity') ?? 0) > 0, 'and spent the global budget every second')
  const c = real.get('contact')
  t.ok(c?.admitted, 'the known contact is admitted, into the reserved slot')
  t.ok(lines.some((l) => l.msg === 'known contact admitted past the global rate limit' && l.caller === contact))
  const s = real.get('stranger')
  t.notOk(s?.admitted, 'an unknown caller at the same moment is not')
  if (s !== undefined && !s.admitted) {
    t.equal(s.reason, 'rate_global')
    t.equal(s.fallback, undefined, 'nor handed to the fallback: the flood used up its budget')
  }
  t.equal(await guard.active(), 4)
})

t.test('with the fallback configured, a caller over the global budget is handed to it, not dropped', async (t) => {
  const { guard, lines } = setup(t, { rates: { globalPerSecond: 2, whenLimited: 'fallback', fallbackPerMinute: 2 }, capacity: { maxConcurrent: 10 } })
  const got: Array<string | undefined> = []
  for (let i = 0; i < 5; i++) {
    const v = await guard.admit({ uuid: `g-${i}`, callerNumber: `+39333123400${i}`, did: DID, sourceIp: `192.0.2.${10 + i}` })
    got.push(v.admitted ? 'admitted' : `${v.reason}${v.fallback === undefined ? '' : ' -> fallback'}`)
  }
  t.same(got, ['admitted', 'admitted', 'rate_global -> fallback', 'rate_global -> fallback', 'rate_global'], 'until the fallback budget is used up')
  t.match(lines.filter((l) => l.msg === 'call rejected').map((l) => [l.rule, l.fallback]), [
    ['guard.rates.globalPerSecond', 'phone_agent_fallback'], ['guard.rates.globalPerSecond', 'phone_agent_fallback'], ['guard.rates.globalPerSecond', null],
  ])
})

t.test('a spoofer of a contact\'s number from a flooding address is still held to that address\'s limit', async (t) => {
  const contact = '+393479876543'
  const { guard } = setup(t, { rates: { perSourceIpPerMinute: 2, perCallerPerMinute: 10 }, capacity: { maxConcurrent: 4, reservedForContacts: 2 } }, [contact])
  const got: string[] = []
  for (let i = 0; i < 5; i++) {
    const v = await guard.admit({ uuid: `spoof-${i}`, callerNumber: contact, did: DID, sourceIp: '203.0.113.50' })
    got.push(v.admitted ? 'admitted' : v.reason)
  }
  t.same(got, ['admitted', 'admitted', 'rate_source_ip', 'rate_source_ip', 'rate_source_ip'])
  const other = await guard.admit({ uuid: 'other', callerNumber: '+393331234567', did: DID, sourceIp: '192.0.2.8' })
  t.ok(other.admitted, 'the general slots are still free for others')
})
