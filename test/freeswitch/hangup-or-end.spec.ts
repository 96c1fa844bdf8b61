import t from 'tap'
import { EventEmitter } from 'node:events'
import { Channel } from '../../lib/freeswitch/channel.ts'
import { LazyAbort } from '../../lib/freeswitch/lazy-abort.ts'
import { parseChannelData } from '../../lib/freeswitch/channel-data.ts'
import { PhoneAgentError, isPhoneAgentError } from '../../lib/errors.ts'
import { captureLogs } from '../helpers/logs.ts'

// A script's work stops when the call hangs up and when we ask it to end (shutdown). The channel
// gives that as one signal of its own (hangupOrEnd) instead of each call making an
// AbortSignal.any of the two (~1 KB of heap a call on Node 20); the end request alone is made
// only when a wait past the hangup needs it.

/** esl's connection as Channel uses it: events, send, end (no api: uuid_break fails, as on a closing socket). */
class FakeEsl extends EventEmitter {
  closed = false
  readonly sent: string[] = []
  async send (command: string): Promise<void> { this.sent.push(command) }
  end (): void {}
}

function channel (esl: FakeEsl): Channel {
  const data = parseChannelData({ 'Unique-ID': '6f0c8e2a-1b2c-4d3e-8f90-a1b2c3d4e5f6', 'Channel-Name': 'sofia/external/x' })
  return new Channel(esl as never, data, { commandTimeoutMs: 1000, lingerMs: 100, logger: captureLogs().logger })
}

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
