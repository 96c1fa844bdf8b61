import t from 'tap'
import { classifyCallerId, privacyWithholds } from '../../lib/guard/caller-id.ts'

const kind = (n: string | undefined, name?: string, privacy?: Parameters<typeof classifyCallerId>[2]) => classifyCallerId(n, name, privacy, 'IT')

t.test('withheld caller IDs in the spellings carriers use', async (t) => {
  for (const n of [undefined, '', '  ', 'anonymous', 'Anonymous', 'ANONYMOUS', 'restricted', 'Restricted', 'unknown', 'unavailable', 'private', 'withheld', 'blocked', '0000000000', '+000', 'sip:anonymous@anonymous.invalid', 'anonymous@anonymous.invalid', 'sip:foo@anonymous.invalid']) {
    t.equal(kind(n).kind, 'anonymous', JSON.stringify(n))
  }
})

t.test('control characters are malformed, in the number or the name', async (t) => {
  t.match(kind('+390212345678\r\n'), { kind: 'malformed', detail: 'control_characters' })
  t.match(kind('\n'), { kind: 'malformed', detail: 'control_characters' }, 'a bare newline is an injection, not a withheld number')
  t.match(kind('+390212345678', 'Rossi\u0007'), { kind: 'malformed', detail: 'control_characters' })
  t.match(kind('+390212345678\u007f'), { kind: 'malformed' })
})

t.test('privacy requests withhold a real number; none does not', async (t) => {
  t.equal(privacyWithholds({ sipPrivacy: 'id' }), 'sip_privacy')
  t.equal(privacyWithholds({ sipPrivacy: 'user; id' }), 'sip_privacy')
  t.equal(privacyWithholds({ sipPrivacy: 'header;critical' }), 'sip_privacy')
  t.equal(privacyWithholds({ sipPrivacy: 'none' }), undefined)
  t.equal(privacyWithholds({ hideNumber: true }), 'privacy_hide_number')
  t.equal(privacyWithholds({ hideNumber: 'TRUE' }), 'privacy_hide_number')
  t.equal(privacyWithholds({ hideNumber: 'false' }), undefined)
  t.match(kind('+390212345678', 'Mario', { sipPrivacy: 'id' }), { kind: 'anonymous', detail: 'sip_privacy' })
})

t.test('numbers normalise to E.164; shapes a carrier never sends are malformed', async (t) => {
  t.same(kind('0212345678'), { kind: 'number', e164: '+390212345678' })
  t.same(kind('00436641234567'), { kind: 'number', e164: '+436641234567' })
  for (const n of ['abc', '12', '+39 02 1234', 'sip:+390212345678@host', '+39021234567890123', '+999123456', '++39021234']) {
    t.equal(kind(n).kind, 'malformed', n)
  }
})
