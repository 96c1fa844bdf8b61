import t from 'tap'
import { mock } from 'node:test'
import { createAdmissionGuard, privacyFromChannel, type AdmissionVerdict, type RejectionRecord } from '../../lib/guard/admission.ts'
import { guardSchema, type GuardConfigInput } from '../../lib/guard/config.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'
import { logSink } from './helpers.ts'

const DID = '+390212345600'

function makeGuard (input: GuardConfigInput = {}) {
  const { logger, lines } = logSink()
  const records: RejectionRecord[] = []
  const guard = createAdmissionGuard(guardSchema.parse(input), {
    defaultCountry: 'IT',
    servedDids: (d) => d === DID,
    logger,
    onReject: (r) => records.push(r),
    now: () => new Date('2026-01-10T10:00:00Z'),
  })
  return { guard, lines, records }
}

let seq = 0
const call = (callerNumber: string | undefined, extra: Record<string, unknown> = {}) => ({ uuid: `call-${++seq}`, callerNumber, did: DID, ...extra })

function reason (v: AdmissionVerdict): string {
  return v.admitted ? 'admitted' : v.reason
}

t.test('an ordinary caller is admitted with the E.164 number, and release frees the slot', async (t) => {
  const { guard } = makeGuard()
  t.teardown(() => guard.close())
  const v = await guard.admit(call('0212345678'))
  t.ok(v.admitted)
  if (!v.admitted) return
  t.equal(v.caller, '+390212345678')
  t.equal(await guard.active(), 1)
  v.release()
  v.release()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(await guard.active(), 0, 'released once, double release ignored')
})

t.test('each rejection has its reason, hangup cause, a log line and a record', async (t) => {
  const { guard, lines, records } = makeGuard({ callers: { blockPrefixes: ['+39899'] } })
  t.teardown(() => guard.close())
  const cases: Array<[ReturnType<typeof call>, string, string]> = [
    [call('anonymous'), 'anonymous', 'CALL_REJECTED'],
    [call('+39 02 1234'), 'malformed_caller', 'CALL_REJECTED'],
    [call('+33123456789'), 'prefix_not_allowed', 'CALL_REJECTED'],
    [call('+39899123456'), 'prefix_blocked', 'CALL_REJECTED'],
    [call('+390212345678', { did: '+390299999999' }), 'unknown_did', 'UNALLOCATED_NUMBER'],
    [call('+390212345678', { did: undefined }), 'unknown_did', 'UNALLOCATED_NUMBER'],
  ]
  for (const [req, want, cause] of cases) {
    const v = await guard.admit(req)
    t.equal(reason(v), want, String(req.callerNumber))
    if (!v.admitted) {
      t.equal(v.hangupCause, cause)
      t.equal(v.busyMessage, false)
    }
  }
  t.equal(records.length, cases.length, 'one record per rejection')
  t.match(records[3], { reason: 'prefix_blocked', caller: '+39899123456', detail: '+39899', did: DID, at: '2026-01-10T10:00:00.000Z' })
  const rejected = lines.filter((l) => l.msg === 'call rejected')
  t.equal(rejected.length, cases.length)
  t.match(rejected[0], { level: 30, msg: 'call rejected', reason: 'anonymous', detail: 'anonymous_word', callerRaw: 'anonymous', hangupCause: 'CALL_REJECTED' })
})

t.test('anonymous callers can be allowed, and then share one rate bucket', async (t) => {
  const { guard } = makeGuard({ callers: { rejectAnonymous: false }, rates: { perCallerPerMinute: 2 } })
  t.teardown(() => guard.close())
  const a = await guard.admit(call(''))
  const b = await guard.admit(call('restricted'))
  const c = await guard.admit(call('0000000000'))
  t.equal(a.admitted && a.caller, 'anonymous')
  t.ok(b.admitted)
  t.equal(reason(c), 'rate_caller_minute', 'third withheld call in the minute is refused')
  for (const v of [a, b]) if (v.admitted) v.release()
})

t.test('privacy flags from the ESL connect reply', async (t) => {
  const headers: Record<string, string> = { 'variable_sip_Privacy': 'id', 'Caller-Privacy-Hide-Number': 'false' }
  const privacy = privacyFromChannel((h) => headers[h])
  t.same(privacy, { sipPrivacy: 'id', hideNumber: 'false' })
  const { guard } = makeGuard()
  t.teardown(() => guard.close())
  t.equal(reason(await guard.admit(call('+390212345678', { privacy }))), 'anonymous')
})

t.test('rate limits per caller (minute, hour) and global, on a fake clock', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-01-10T10:00:00Z') })
  const { guard } = makeGuard({ rates: { perCallerPerMinute: 2, perCallerPerHour: 3, globalPerSecond: 1000 }, capacity: { maxConcurrent: 100 } })
  t.teardown(async () => {
    await guard.close()
    mock.timers.reset()
  })
  const caller = '+390212345678'
  t.equal(reason(await guard.admit(call(caller))), 'admitted')
  t.equal(reason(await guard.admit(call(caller))), 'admitted')
  const third = await guard.admit(call(caller))
  t.equal(reason(third), 'rate_caller_minute')
  t.equal(!third.admitted && third.hangupCause, 'CALL_REJECTED')
  t.equal(reason(await guard.admit(call('+390212345679'))), 'admitted', 'another caller is not affected')

  mock.timers.tick(61_000)
  t.equal(reason(await guard.admit(call(caller))), 'admitted', 'a new minute, third call this hour')
  t.equal(reason(await guard.admit(call(caller))), 'rate_caller_hour', 'fourth call in the hour')
  mock.timers.tick(3_600_000)
  t.equal(reason(await guard.admit(call(caller))), 'admitted', 'a new hour')
})

t.test('global calls per second', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-01-10T10:00:00Z') })
  const { guard } = makeGuard({ rates: { globalPerSecond: 3 }, capacity: { maxConcurrent: 100 } })
  t.teardown(async () => {
    await guard.close()
    mock.timers.reset()
  })
  const got: string[] = []
  for (let i = 0; i < 5; i++) got.push(reason(await guard.admit(call(`+3902123456${10 + i}`))))
  t.same(got, ['admitted', 'admitted', 'admitted', 'rate_global', 'rate_global'])
  mock.timers.tick(1_001)
  t.equal(reason(await guard.admit(call('+390212345699'))), 'admitted', 'next second')
})

t.test('capacity: busy message by default, USER_BUSY when configured, slot comes back on release', async (t) => {
  const { guard } = makeGuard({ capacity: { maxConcurrent: 2 } })
  t.teardown(() => guard.close())
  const a = await guard.admit(call('+390212345601'))
  const b = await guard.admit(call('+390212345602'))
  const c = await guard.admit(call('+390212345603'))
  t.match(c, { admitted: false, reason: 'capacity', busyMessage: true, hangupCause: 'USER_BUSY' })
  if (a.admitted) a.release()
  await new Promise((resolve) => setImmediate(resolve))
  const d = await guard.admit(call('+390212345604'))
  t.ok(d.admitted, 'a slot freed by release is reused')
  for (const v of [b, d]) if (v.admitted) v.release()

  const busy = makeGuard({ capacity: { maxConcurrent: 1, whenFull: 'user-busy' } })
  t.teardown(() => busy.guard.close())
  const x = await busy.guard.admit(call('+390212345605'))
  t.match(await busy.guard.admit(call('+390212345606')), { admitted: false, reason: 'capacity', busyMessage: false, hangupCause: 'USER_BUSY' })
  if (x.admitted) x.release()
})

t.test('an aborted signal rejects with the signal reason and holds no slot', async (t) => {
  const { guard } = makeGuard()
  t.teardown(() => guard.close())
  const ac = new AbortController()
  ac.abort()
  await t.rejects(guard.admit(call('+390212345678', { signal: ac.signal })), { code: 'CALL_ABORTED' })
  t.equal(await guard.active(), 0)
  try {
    await guard.admit(call('+390212345678', { signal: ac.signal }))
  } catch (err) {
    t.ok(isPhoneAgentError(err, 'CALL_ABORTED'))
  }
})

t.test('a throwing records writer does not break admission', async (t) => {
  const { logger, lines } = logSink()
  const guard = createAdmissionGuard(guardSchema.parse({}), {
    defaultCountry: 'IT', servedDids: () => true, logger, onReject: () => { throw new Error('disk full') },
  })
  t.teardown(() => guard.close())
  t.equal(reason(await guard.admit(call('anonymous'))), 'anonymous')
  t.ok(lines.some((l) => l.msg === 'rejection record failed' && l.level === 50))
})
