import t from 'tap'
import { getEventListeners } from 'node:events'
import { CallHangupError, PhoneAgentError } from '../../lib/errors.ts'
import { AbortLink } from '../../lib/providers/abort-link.ts'
import { createDeadline, pendingProviderTimers } from '../../lib/providers/retry.ts'
import { codeOf } from './helpers.ts'

/** AbortLink: what AbortSignal.any([...parents, own]) gave, one signal and no listener left behind (issue 18). */

const listeners = (s: AbortSignal): number => getEventListeners(s, 'abort').length

t.test('a parent aborting aborts the link with that parent\'s own reason, and the link lets go of every parent', async t => {
  const call = new AbortController()
  const turn = new AbortController()
  const link = new AbortLink([call.signal, turn.signal])
  t.notOk(link.signal.aborted)
  t.equal(listeners(call.signal), 1)
  t.equal(listeners(turn.signal), 1)
  const reason = new CallHangupError()
  turn.abort(reason)
  t.ok(link.signal.aborted)
  t.equal(link.signal.reason, reason, 'the same reason object, as any() gives')
  t.equal(listeners(call.signal), 0, 'nothing left on the longer-lived parent')
  call.abort(new Error('later'))
  t.equal(link.signal.reason, reason, 'the first reason stays')
})

t.test('abort() aborts the link alone and detaches it; dispose() detaches without aborting', async t => {
  const call = new AbortController()
  const a = new AbortLink([call.signal])
  const b = new AbortLink([call.signal])
  t.equal(listeners(call.signal), 2)
  const why = new PhoneAgentError('TURN_OVER', 'turn over')
  a.abort(why)
  t.equal(a.signal.reason, why)
  t.notOk(call.signal.aborted, 'the parent is untouched')
  b.dispose()
  b.dispose()
  t.equal(listeners(call.signal), 0)
  call.abort(new CallHangupError())
  t.notOk(b.signal.aborted, 'a disposed link no longer follows its parent')
})

t.test('a parent already aborted: the link starts aborted with its reason and adds no listener; absent parents are skipped', async t => {
  const done = new AbortController()
  const reason = new CallHangupError()
  done.abort(reason)
  const live = new AbortController()
  const link = new AbortLink([undefined, live.signal, done.signal])
  t.ok(link.signal.aborted)
  t.equal(link.signal.reason, reason)
  t.equal(listeners(live.signal), 0)
  const orphan = new AbortLink([undefined])
  t.notOk(orphan.signal.aborted)
  orphan.abort(reason)
  t.equal(codeOf(orphan.signal.reason), 'CALL_HANGUP')
})

t.test('a deadline whose timer was stopped still follows the caller, and dispose lets go of it', async t => {
  const call = new AbortController()
  const d = createDeadline(call.signal, 60_000)
  d.stopTimer()
  t.equal(pendingProviderTimers(), 0, 'the timer is gone')
  t.equal(listeners(call.signal), 1, 'the caller is still followed')
  call.abort(new CallHangupError())
  t.equal(codeOf(d.signal.reason), 'CALL_HANGUP')
  t.notOk(d.expired)

  const other = new AbortController()
  const e = createDeadline(other.signal, 60_000)
  e.dispose()
  t.equal(listeners(other.signal), 0)
  t.equal(pendingProviderTimers(), 0)
})
