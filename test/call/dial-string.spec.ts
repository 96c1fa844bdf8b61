import t from 'tap'
import { dialStringLegs, numbersInDialString } from '../../lib/call/dial-string.ts'

// Every form switch_ivr_originate() accepts: the numbers it would ring must all reach the guard.
const CASES: Array<[string, string[]]> = [
  ['sofia/gateway/trunk/+390212345678', ['+390212345678']],
  ['sofia/external/0039021234567@carrier.example', ['0039021234567']],
  ['sofia/external/sip:+4930123456@carrier.example;transport=tcp', ['+4930123456']],
  ['loopback/00882123456789/public', ['00882123456789']],
  ['loopback/00882123456789/public/XML', ['00882123456789']],
  ['{ignore_early_media=true}loopback/0900123456/default', ['0900123456']],
  ['<leg_timeout=10>{a=b}sofia/gateway/trunk/+43900123456', ['+43900123456']],
  ['[leg_timeout=5]sofia/gateway/a/+390211111111,[leg_timeout=5]sofia/gateway/b/+390222222222', ['+390211111111', '+390222222222']],
  ['user/1000@example.com|sofia/gateway/trunk/+8816123456', ['+8816123456']],
  ['user/1000@$${domain}', []],
  ['user/1000@example.com:_:loopback/+870123456/default', ['+870123456']],
  ['{x=1,y=2}user/1001@example.com,user/1002@example.com', []],
  ['sofia/gateway/trunk/+39 02 1234-5678', ['+390212345678']],
]

t.test('numbers in each dial-string form', async (t) => {
  for (const [dial, numbers] of CASES) t.same(numbersInDialString(dial), numbers, dial)
})

t.test('variable blocks do not split legs; an unclosed block is refused', async (t) => {
  t.same(dialStringLegs('{a=1,b=2}user/1@x,user/2@x'), ['user/1@x', 'user/2@x'])
  t.throws(() => dialStringLegs('{a=1,b=2user/1@x'), /unclosed/)
})

t.test('${...} channel variables are refused (a caller could choose the number); $${...} globals are fine', async (t) => {
  t.throws(() => numbersInDialString('sofia/gateway/trunk/${caller_id_number}'), /channel variable/)
  t.throws(() => numbersInDialString('${destination}'), /channel variable/)
  t.doesNotThrow(() => numbersInDialString('sofia/gateway/$${trunk}/+390212345678'))
})
