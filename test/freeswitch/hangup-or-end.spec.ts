import t from 'tap'
import { LazyAbort } from '../../lib/freeswitch/lazy-abort.ts'
import { PhoneAgentError, isPhoneAgentError } from '../../lib/errors.ts'
import { channelOn as channel, FakeEsl } from './fake-esl.ts'

// A script's work stops when the call hangs up and when we ask it to end (shutdown). The channel
// gives that as one signal of its own (hangupOrEnd) instead of each call making an
// AbortSignal.any of the two (~1 KB of heap a call on Node 20); the end request alone is made
// only when a wait past the hangup needs it.

t.test('asked to end: hangupOrEnd aborts with the request\'s reason, the call stays up, a later hangup changes neither', async (t) => {
  const esl = new FakeEsl()
  const ch = channel(esl)
  const signal = ch.hangupOrEnd
  t.notOk(signal.aborted)
  t.notOk(ch.endRequested)
  const why = new PhoneAgentError('CALL_ABORTED', 'shutting down')
  await ch.requestEnd(why)
  t.ok(signal.aborted)
  t.equal(signal.reason, why, 'the request\'s reason')
  t.ok(ch.endRequested)
  t.ok(ch.isUp, 'the call itself is still up')
  const err = await ch.execute('playback', '/tmp/x.wav', { timeoutMs: 1000 }).catch((e: unknown) => e)
  t.equal(err, why, 'a command that is not final is refused with it at once')
  esl.emit('socket.close')
  t.notOk(ch.isUp)
  t.equal(ch.hangupOrEnd.reason, why, 'the first reason stays')
  t.ok(ch.endRequested, 'still asked to end')
})

t.test('hung up: hangupOrEnd aborts with the call\'s own reason, and no end was requested', async (t) => {
  const esl = new FakeEsl()
  const ch = channel(esl)
  esl.emit('socket.close')
  t.ok(ch.hangupOrEnd.aborted)
  t.equal(ch.hangupOrEnd.reason, ch.signal.reason, 'the same reason as the call\'s signal')
  t.ok(isPhoneAgentError(ch.signal.reason) && ch.signal.reason.code === 'ESL_SOCKET_CLOSED')
  await ch.requestEnd(new PhoneAgentError('CALL_ABORTED', 'too late'))
  t.notOk(ch.endRequested, 'a request after the hangup is nothing')
  t.equal(ch.hangupOrEnd.reason, ch.signal.reason)
})

t.test('LazyAbort.aborted answers without making the signal', async (t) => {
  const lazy = new LazyAbort()
  t.notOk(lazy.aborted)
  lazy.abort('why')
  t.ok(lazy.aborted)
  t.equal(lazy.signal.reason, 'why')
})
