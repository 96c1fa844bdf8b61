import t from 'tap'
import { LazyAbort } from '../../lib/freeswitch/lazy-abort.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'
import { channelOn as channel, FakeEsl } from './fake-esl.ts'

// Channel makes its "socket closed" signal only when something waits on it (a background job, a
// bridge or recording past the hangup): most calls never do, and each AbortSignal is ~1 KB of
// heap. Made before the close it aborts with it; made after, it is aborted already.

const closedError = (err: unknown): boolean => isPhoneAgentError(err) && err.code === 'ESL_SOCKET_CLOSED'

t.test('a background job waiting when the socket closes is ended with it', async (t) => {
  const esl = new FakeEsl()
  const ch = channel(esl)
  const job = ch.bgapi('originate sofia/gateway/x/1000 &park()', { timeoutMs: 60_000 })
  await new Promise((resolve) => setImmediate(resolve))
  t.match(esl.sent[0], /^bgapi originate/)
  esl.emit('socket.close')
  const err = await job.catch((e: unknown) => e)
  t.ok(closedError(err), `rejected with the close: ${String(err)}`)
})

t.test('a wait that starts after the socket closed ends at once', async (t) => {
  const esl = new FakeEsl()
  const ch = channel(esl)
  esl.emit('socket.close')
  // The connection still takes the command (as one closing may): only the signal can end the wait.
  const live = new AbortController()
  const started = Date.now()
  const err = await ch.bgapi('status', { timeoutMs: 60_000, signal: live.signal }).catch((e: unknown) => e)
  t.ok(closedError(err), `rejected: ${String(err)}`)
  t.ok(Date.now() - started < 1000, 'at once, not at the timeout')
})

t.test('LazyAbort: the first reason wins, before or after the signal is made', async (t) => {
  const before = new LazyAbort()
  const early = before.signal
  before.abort('first')
  before.abort('second')
  t.ok(early.aborted)
  t.equal(early.reason, 'first')
  const after = new LazyAbort()
  after.abort('first')
  after.abort('second')
  t.equal(after.signal.reason, 'first', 'made after the abort: already aborted, with the first reason')
  t.equal(after.signal, after.signal, 'one signal, however often asked for')
})
