import t from 'tap'
import { Keypad } from '../../lib/call/keypad.ts'
import { CallStatus } from '../../lib/call/call-status.ts'

t.test('the keypad keeps digits typed ahead, oldest first, and bounded', async (t) => {
  const keypad = new Keypad()
  for (const d of '123') keypad.push(d)
  t.equal(keypad.take(), '1')
  t.equal(keypad.take(), '2')
  keypad.flush()
  t.equal(keypad.take(), undefined, 'flush forgets what was typed ahead')
  for (let i = 0; i < Keypad.MAX_BUFFERED + 3; i++) keypad.push(String(i % 10))
  t.equal(keypad.take(), '3', 'past the bound the oldest digits are dropped')
})

t.test('a waiting reader gets each digit instead of the buffer, until it stops', async (t) => {
  const keypad = new Keypad()
  const first: string[] = []
  const stopFirst = keypad.wait((d) => first.push(d))
  keypad.push('5')
  t.same(first, ['5'])
  t.equal(keypad.take(), undefined, 'nothing kept while someone reads')
  const second: string[] = []
  const stopSecond = keypad.wait((d) => second.push(d))
  stopFirst()
  keypad.push('6')
  t.same([first, second], [['5'], ['6']], 'a replaced reader stopping does not stop the new one')
  stopSecond()
  keypad.push('7')
  t.equal(keypad.take(), '7', 'kept again once nobody reads')
})

t.test('the call status keeps its rules', async (t) => {
  const status = new CallStatus()
  t.same([status.answered, status.handedOff, status.outcome], [false, false, undefined])
  status.markAnswered()
  t.equal(status.answered, true)
  status.reachedVoicemail()
  t.equal(status.outcome, undefined, 'voicemail only refines a transfer')
  status.tookMessage()
  t.equal(status.outcome, 'message_taken')
  status.handOff()
  t.same([status.handedOff, status.outcome], [true, 'transferred'], 'a hand-off counts as transferred')
  status.reachedVoicemail()
  t.equal(status.outcome, 'voicemail', 'a transfer to voicemail is recorded as voicemail')
  t.same([status.nextRecording(), status.nextRecording()], [1, 2], 'recordings are numbered from 1')

  const bridged = new CallStatus()
  bridged.transferred()
  t.same([bridged.handedOff, bridged.outcome], [false, 'transferred'], 'a bridge that came back is transferred, not handed off')
})
