import t from 'tap'
import { CallHangupError } from '../../lib/errors.ts'
import { deadlinePassed, toProviderError } from '../../lib/providers/errors.ts'
import { createDeadline, pendingProviderTimers } from '../../lib/providers/retry.ts'
import { codeOf } from './helpers.ts'

/** The deadline's timer signal is made only when read (issue 18): the same answers either way. */

const expiry = async (signal: AbortSignal): Promise<void> => {
  if (!signal.aborted) await new Promise((resolve) => { signal.addEventListener('abort', resolve, { once: true }) })
}

t.test('a timer signal read before the deadline passes is aborted with the same timeout as the deadline\'s signal', async t => {
  const d = createDeadline(new AbortController().signal, 5)
  const timer = d.timer
  t.equal(d.timer, timer, 'one signal, however often read')
  t.notOk(timer.aborted)
  t.notOk(d.expired)
  await expiry(d.signal)
  t.ok(d.expired)
  t.ok(timer.aborted)
  t.equal(codeOf(timer.reason), 'PROVIDER_TIMEOUT')
  t.equal(timer.reason, d.signal.reason, 'the same typed reason')
  d.dispose()
  t.equal(pendingProviderTimers(), 0)
})

t.test('a timer signal first read after the deadline passed is already aborted, with its reason', async t => {
  const d = createDeadline(undefined, 5)
  await expiry(d.signal)
  t.ok(d.expired)
  t.ok(d.timer.aborted)
  t.equal(codeOf(d.timer.reason), 'PROVIDER_TIMEOUT')
  d.dispose()
})

t.test('the caller\'s abort is not a passed deadline: expired stays false, the timer signal is not aborted', async t => {
  const call = new AbortController()
  const d = createDeadline(call.signal, 60_000)
  call.abort(new CallHangupError())
  t.equal(codeOf(d.signal.reason), 'CALL_HANGUP')
  t.notOk(d.expired)
  t.notOk(d.timer.aborted)
  t.notOk(deadlinePassed(d))
  d.dispose()
  t.equal(pendingProviderTimers(), 0)
})

t.test('toProviderError: a Deadline that passed makes any failure a PROVIDER_TIMEOUT, as its timer signal did', async t => {
  const err = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
  const live = createDeadline(undefined, 60_000)
  const before = toProviderError(err, { provider: 'openai', operation: 'chat', deadline: live })
  t.not(before.code, 'PROVIDER_TIMEOUT', 'a deadline still running says nothing')
  live.dispose()
  const d = createDeadline(undefined, 5)
  await expiry(d.signal)
  t.equal(toProviderError(err, { provider: 'openai', operation: 'chat', deadline: d }).code, 'PROVIDER_TIMEOUT')
  t.equal(toProviderError(err, { provider: 'openai', operation: 'chat', deadline: d.timer }).code, 'PROVIDER_TIMEOUT', 'an AbortSignal is still accepted')
  t.ok(deadlinePassed(d.timer))
  d.dispose()
})
