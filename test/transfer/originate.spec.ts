import t from 'tap'
import { cancelRingCommand, originateCommand, withVariables } from '../../lib/call/transfer/originate.ts'
import { bridgeOutcome, originateOutcome } from '../../lib/call/transfer/outcome.ts'
import { ringbackPeriod } from '../../lib/call/transfer/ringback.ts'

const TAG = '123e4567-e89b-42d3-a456-426614174000'

t.test('the originate command: our variables merged into the dial string, parked on answer', async (t) => {
  const cmd = originateCommand('sofia/gateway/trunk/+390299999999', { tag: TAG, timeoutSeconds: 25, parkTimeoutSeconds: 30, callerIdNumber: '+393331234567', callerIdName: 'Mario Rossi' })
  t.equal(cmd, `originate {phone_agent_ring=${TAG},originate_timeout=25,park_timeout=30,ignore_early_media=true,origination_caller_id_number=+393331234567,origination_caller_id_name=Mario Rossi}sofia/gateway/trunk/+390299999999 &park()`)
  t.equal(withVariables('{a=b}user/1@x', ['c=d']), '{c=d,a=b}user/1@x', 'one leading block')
  t.equal(withVariables('<a=b>user/1@x', ['c=d']), '<c=d,a=b>user/1@x')
  t.equal(withVariables('user/1@x:_:user/2@x', ['c=d']), '<c=d>user/1@x:_:user/2@x')
})

t.test('caller-controlled caller IDs that could break the variable block are left out', async (t) => {
  for (const name of ['a,b', "o'hara", 'x}y', 'x\ny', 'a'.repeat(41)]) {
    t.notMatch(originateCommand('user/1@x', { tag: TAG, timeoutSeconds: 5, parkTimeoutSeconds: 5, callerIdName: name }), /origination_caller_id_name/, JSON.stringify(name))
  }
  t.notMatch(originateCommand('user/1@x', { tag: TAG, timeoutSeconds: 5, parkTimeoutSeconds: 5, callerIdNumber: '123,park' }), /origination_caller_id_number/)
})

t.test('hupall is never sent without a well-formed tag (without one it hangs up every channel)', async (t) => {
  t.equal(cancelRingCommand(TAG), `hupall ORIGINATOR_CANCEL phone_agent_ring ${TAG}`)
  t.throws(() => cancelRingCommand(''))
  t.throws(() => cancelRingCommand('x y'))
  t.throws(() => originateCommand('user/1@x', { tag: 'nope', timeoutSeconds: 5, parkTimeoutSeconds: 5 }))
})

t.test('outcomes read from what FreeSWITCH really sends', async (t) => {
  t.same(bridgeOutcome({ variable_originate_disposition: 'SUCCESS', variable_DIALSTATUS: 'SUCCESS', variable_bridge_hangup_cause: 'NORMAL_CLEARING' }), { connected: true, disposition: 'ANSWERED' }, 'what a real FreeSWITCH sends')
  t.same(bridgeOutcome({ variable_originate_disposition: 'call accepted', variable_DIALSTATUS: 'EARLY' }), { connected: true, disposition: 'ANSWERED' })
  t.same(bridgeOutcome({ variable_originate_disposition: 'USER_BUSY', variable_originate_failed_cause: 'USER_BUSY', variable_DIALSTATUS: 'BUSY' }), { connected: false, disposition: 'USER_BUSY' })
  t.same(bridgeOutcome({ variable_DIALSTATUS: 'ANSWER' }), { connected: false, disposition: 'ANSWER' }, 'DIALSTATUS alone is not trusted (EARLY/ANSWER are inverted)')
  t.same(originateOutcome('+OK 5a0a1f1e-0000-4000-8000-000000000001\n'), { answered: true, uuid: '5a0a1f1e-0000-4000-8000-000000000001' })
  t.same(originateOutcome('-ERR NO_ANSWER\n'), { answered: false, cause: 'NO_ANSWER' })
  t.same(originateOutcome('Command returned no output!'), { answered: false, cause: 'UNKNOWN' })
})

t.test('ringback: European 425 Hz 1 s on / 4 s off, North American 440+480 Hz 2 s on / 4 s off', async (t) => {
  const eu = ringbackPeriod(8000, 'IT')
  t.equal(eu.length, 5 * 8000)
  t.ok(Math.max(...eu.subarray(0, 8000)) > 3000, 'tone in the first second')
  t.equal(Math.max(...eu.subarray(8000).map(Math.abs)), 0, 'silence after it')
  t.equal(ringbackPeriod(16000, 'US').length, 6 * 16000)
})
