import t from 'tap'
import { createDialGuard } from '../../lib/guard/dial.ts'
import { guardSchema } from '../../lib/guard/config.ts'
import { BUILTIN_BLOCKS } from '../../lib/guard/prefixes.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'

const dial = createDialGuard(guardSchema.parse({}), { defaultCountry: 'IT' })

t.test('the same premium number in every written form is blocked', async (t) => {
  for (const n of ['+39899123456', '0039899123456', '0039 899 123 456', '899123456', 'tel:+39899123456', 'sip:0039899123456@trunk.example', '+39 (899) 123-456']) {
    t.match(dial.verdict(n), { allowed: false, reason: 'premium', e164: '+39899123456' }, n)
  }
})

t.test('check() returns E.164 or throws DIAL_BLOCKED naming the range, not the number', async (t) => {
  t.equal(dial.check('02 1234 5678'), '+390212345678')
  t.equal(dial.check('+49 30 123456'), '+4930123456')
  for (const [n, why] of [['+43 0900 123456', 'premium: AT 0900'], ['+8818899199', 'satellite: GMSS satellite +881'], ['+33123456789', 'country_not_allowed'], ['#31#', 'not_a_number']] as const) {
    try {
      dial.check(n)
      t.fail(`${n} was allowed`)
    } catch (err) {
      t.ok(isPhoneAgentError(err, 'DIAL_BLOCKED'), n)
      t.match((err as Error).message, why)
      t.notMatch((err as Error).message, /\d{6}/, 'the number is not in the message')
    }
  }
})

t.test('every built-in range has a blocked example and its neighbours stay allowed', async (t) => {
  for (const rule of BUILTIN_BLOCKS) {
    const v = dial.verdict(rule.prefix + '1234567')
    t.match(v, { allowed: false, rule: { label: rule.label } }, rule.label)
  }
  for (const n of ['+390212345678', '+390891234567', '+4989123456', '+491711234567', '+41441234567', '+4315123456']) {
    t.match(dial.verdict(n), { allowed: true }, n)
  }
})

t.test('config: extra blocks and a narrower allowlist; the built-ins cannot be allowed back', async (t) => {
  const narrow = createDialGuard(guardSchema.parse({ outbound: { allowPrefixes: ['+39'], blockPrefixes: ['+3933'] } }), { defaultCountry: 'IT' })
  t.match(narrow.verdict('+4930123456'), { allowed: false, reason: 'country_not_allowed' })
  t.match(narrow.verdict('3331234567'), { allowed: false, reason: 'premium', rule: { label: 'configured +3933' } })
  t.match(narrow.verdict('0212345678'), { allowed: true })
  const open = createDialGuard(guardSchema.parse({ outbound: { allowPrefixes: ['+'] } }), { defaultCountry: 'IT' })
  t.match(open.verdict('+33123456789'), { allowed: true }, 'a bare + allows every country')
  t.match(open.verdict('+88212345678'), { allowed: false, reason: 'satellite' }, 'but never satellite')
})
