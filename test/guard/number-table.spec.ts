import t from 'tap'
import pino from 'pino'
import { createAdmissionGuard } from '../../lib/guard/admission.ts'
import { createDialGuard } from '../../lib/guard/dial.ts'
import { guardSchema } from '../../lib/guard/config.ts'
import { toE164 } from '../../lib/numbers/e164.ts'
import { DEFAULT_COUNTRY, NUMBERS, SERVED_DID, SERVED_DID_VAR, type NumberSample } from '../fixtures/numbers.ts'
import { allExpressions, loadExtensions, packVars, route } from './dialplan-sim.ts'

// The two layers must agree on every row: the Node guard (what the agent decides) and the
// dialplan pack (what FreeSWITCH decides before the agent sees the call).

const vars = { ...packVars(), phone_agent_dids: SERVED_DID_VAR }
const inboundPlan = loadExtensions('dialplan/public/00_phone_agent.xml', vars)
const outboundPlan = loadExtensions('dialplan/phone_agent_outbound.xml', vars)

// Rates and capacity out of the way: this table is about numbers. The pack's inbound regex
// admits IT/AT/DE/CH, so the Node side is given the same list (its default is the home country).
const config = guardSchema.parse({
  callers: { allowPrefixes: ['+39', '+43', '+49', '+41'] },
  rates: { perCallerPerMinute: 10_000, perCallerPerHour: 10_000, globalPerSecond: 10_000 },
  capacity: { maxConcurrent: 10_000 },
})

/** Which dialplan extension each Node verdict corresponds to. */
const INBOUND_EXTENSION: Record<string, readonly string[]> = {
  admit: ['phone_agent_did'],
  anonymous: ['phone_agent_reject_anonymous'],
  // Node knows more countries than a regex: "+999..." is malformed to Node, foreign to the dialplan.
  malformed_caller: ['phone_agent_reject_malformed_control', 'phone_agent_reject_malformed_shape', 'phone_agent_reject_caller_prefix'],
  prefix_not_allowed: ['phone_agent_reject_caller_prefix'],
  prefix_blocked: ['phone_agent_reject_caller_prefix'],
  unknown_did: ['phone_agent_reject_unknown_did'],
}

function outboundExtensions (verdict: string): RegExp {
  if (verdict === 'allow') return /^phone_agent_allow_(international|national)$/
  if (verdict === 'country_not_allowed' || verdict === 'not_a_number') return /^phone_agent_reject_outbound$/
  return /^phone_agent_block_/
}

function channelFor (s: NumberSample): Record<string, string> {
  return {
    caller_id_number: s.number,
    caller_id_name: s.callerName ?? '',
    destination_number: s.did ?? SERVED_DID,
    sip_Privacy: s.privacy?.sipPrivacy ?? '',
    privacy_hide_number: s.privacy?.hideNumber ?? '',
  }
}

t.test('every dialplan expression compiles as a JavaScript regex', async (t) => {
  const expressions = [...allExpressions(inboundPlan), ...allExpressions(outboundPlan)]
  t.ok(expressions.length >= 12, 'found the expressions')
  for (const e of expressions) t.doesNotThrow(() => new RegExp(e.replace(/^\(\?i\)/, '')), e)
})

t.test('the table covers every category', async (t) => {
  for (const c of ['allowed', 'premium', 'satellite', 'anonymous', 'foreign', 'malformed', 'unknown_did']) {
    t.ok(NUMBERS.some((s) => s.category === c), c)
  }
})

t.test('inbound: Node guard and public dialplan agree', async (t) => {
  const served = new Set([SERVED_DID])
  const guard = createAdmissionGuard(config, { defaultCountry: DEFAULT_COUNTRY, servedDids: (d) => served.has(d), logger: pino({ level: 'silent' }) })
  t.teardown(() => guard.close())
  let n = 0
  for (const s of NUMBERS) {
    if (s.inbound === undefined) continue
    const did = toE164(s.did ?? SERVED_DID, DEFAULT_COUNTRY)
    const v = await guard.admit({ uuid: `u${n++}`, callerNumber: s.number, callerName: s.callerName, did, privacy: s.privacy })
    const nodeVerdict = v.admitted ? 'admit' : v.reason
    if (v.admitted) v.release()
    t.equal(nodeVerdict, s.inbound, `node: ${s.label}`)
    const ext = route(inboundPlan, channelFor(s))
    t.ok(INBOUND_EXTENSION[s.inbound]?.includes(ext ?? ''), `dialplan: ${s.label} -> ${ext} (node says ${s.inbound})`)
  }
  t.equal(await guard.active(), 0, 'every admitted call released its slot')
})

t.test('outbound: Node dial guard and outbound dialplan agree', async (t) => {
  const dial = createDialGuard(config, { defaultCountry: DEFAULT_COUNTRY })
  for (const s of NUMBERS) {
    if (s.outbound === undefined) continue
    const v = dial.verdict(s.number)
    t.equal(v.allowed ? 'allow' : v.reason, s.outbound, `node: ${s.label}`)
    const ext = route(outboundPlan, { destination_number: s.number })
    t.match(ext ?? '', outboundExtensions(s.outbound), `dialplan: ${s.label} -> ${ext}`)
  }
})

t.test('the placeholder DID matches nothing a trunk sends', async (t) => {
  const plan = loadExtensions('dialplan/public/00_phone_agent.xml', packVars())
  t.equal(route(plan, { caller_id_number: '+390212345678', destination_number: SERVED_DID }), 'phone_agent_reject_unknown_did')
})
