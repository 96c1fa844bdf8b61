import t from 'tap'
import { OperatorKeyLane } from '../../lib/call/conversation/operator-key.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'

// The lane's phase is the one signal a conversation phase waits on: it follows the call's and the
// script's signals (no AbortSignal.any of them and the phase: ~1 KB of heap a call on Node 20),
// and only the key makes it "pressed".

/** The channel as the lane uses it: DTMF listeners. */
function keypad (): { channel: never, press: (digit: string) => void, listeners: () => number } {
  const set = new Set<(digit: string) => void>()
  const channel = { onDtmf (fn: (digit: string) => void) { set.add(fn); return () => { set.delete(fn) } } }
  return { channel: channel as never, press (digit) { for (const fn of [...set]) fn(digit) }, listeners: () => set.size }
}

t.test('the key aborts the phase with OPERATOR_KEY and is pressed; the next phase follows the parents again', async (t) => {
  const pad = keypad()
  const call = new AbortController()
  const lane = new OperatorKeyLane(pad.channel, '0', [call.signal, undefined])
  const first = lane.phase
  pad.press('5')
  t.notOk(first.aborted, 'another digit is nothing')
  pad.press('0')
  t.ok(first.aborted)
  t.ok(isPhoneAgentError(first.reason) && first.reason.code === 'OPERATOR_KEY', String(first.reason))
  t.ok(lane.pressed)
  lane.next()
  t.not(lane.phase, first, 'a new phase')
  t.notOk(lane.pressed)
  call.abort('hung up')
  t.ok(lane.phase.aborted, 'the new phase follows the call')
  t.equal(lane.phase.reason, 'hung up')
  t.notOk(lane.pressed, 'ended by the call, not the key')
  lane.dispose()
  t.equal(pad.listeners(), 0, 'DTMF listener gone')
})

t.test('a parent\'s abort ends the phase with its reason; the key after it changes nothing', async (t) => {
  const pad = keypad()
  const call = new AbortController()
  const script = new AbortController()
  const lane = new OperatorKeyLane(pad.channel, '0', [call.signal, script.signal])
  script.abort('script stopped')
  t.equal(lane.phase.reason, 'script stopped')
  pad.press('0')
  t.notOk(lane.pressed)
  t.equal(lane.phase.reason, 'script stopped')
  lane.dispose()
})

t.test('an aborted parent: the phase starts aborted', async (t) => {
  const call = new AbortController()
  call.abort('gone')
  const lane = new OperatorKeyLane(keypad().channel, '0', [call.signal])
  t.ok(lane.phase.aborted)
  t.equal(lane.phase.reason, 'gone')
  lane.dispose()
})

t.test('dispose lets go of the parents (the call\'s signal outlives the conversation)', async (t) => {
  const call = new AbortController()
  const lane = new OperatorKeyLane(keypad().channel, '0', [call.signal])
  const phase = lane.phase
  lane.dispose()
  call.abort('later')
  t.notOk(phase.aborted, 'no longer follows the call')
})

t.test('without parents (the realtime conversation): only the key aborts the phase', async (t) => {
  const pad = keypad()
  const lane = new OperatorKeyLane(pad.channel, '9')
  t.notOk(lane.phase.aborted)
  pad.press('9')
  t.ok(lane.pressed)
  lane.dispose()
})

t.test('work links: the key aborts the one in progress, and one made before next() starts aborted', async (t) => {
  const pad = keypad()
  const call = new AbortController()
  const lane = new OperatorKeyLane(pad.channel, '0', [call.signal])
  const turn = lane.work()
  pad.press('0')
  t.ok(turn.signal.aborted)
  t.ok(isPhoneAgentError(turn.signal.reason) && turn.signal.reason.code === 'OPERATOR_KEY', String(turn.signal.reason))
  lane.release(turn)
  const late = lane.work()
  t.ok(late.signal.aborted, 'pressed between two pieces of work: the next starts aborted')
  t.equal(late.signal.reason, turn.signal.reason)
  lane.release(late)
  lane.next()
  const after = lane.work()
  t.notOk(after.signal.aborted)
  call.abort('hung up')
  t.equal(after.signal.reason, 'hung up', 'follows the call')
  pad.press('0')
  t.notOk(lane.pressed, 'the call is over: the key is nothing')
  lane.release(after)
  lane.dispose()
})

t.test('a work link aborted by its owner (a barge-in) leaves the key free; release lets go of the call', async (t) => {
  const pad = keypad()
  const call = new AbortController()
  const lane = new OperatorKeyLane(pad.channel, '0', [call.signal])
  const turn = lane.work()
  turn.abort('barge-in')
  t.notOk(lane.pressed)
  pad.press('0')
  t.ok(lane.pressed, 'the key still ends the phase')
  t.equal(turn.signal.reason, 'barge-in', 'the owner\'s reason stays')
  lane.release(turn)
  lane.next()
  const phrase = lane.work()
  lane.release(phrase)
  call.abort('later')
  t.notOk(phrase.signal.aborted, 'released: no longer follows the call')
  lane.dispose()
})

t.test('no phase signal is made until asked for; work and the phase both end on the key', async (t) => {
  const pad = keypad()
  const lane = new OperatorKeyLane(pad.channel, '0', [new AbortController().signal])
  const turn = lane.work()
  const phase = lane.phase
  pad.press('0')
  t.ok(turn.signal.aborted && phase.aborted)
  t.equal(phase.reason, turn.signal.reason)
  lane.release(turn)
  lane.dispose()
})
