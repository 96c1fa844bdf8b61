import t from 'tap'
import { pino } from 'pino'
import { createCall } from '../../lib/call/session.ts'
import { nullRecorder } from '../../lib/records/null-recorder.ts'

/** Just enough of a channel and a context for answer() and hangup(). */
function makeCall (): { call: ReturnType<typeof createCall>['call'], done: string[] } {
  const done: string[] = []
  const channel = {
    uuid: 'u1',
    answered: false,
    data: { callerNumber: '+390211111111', callerName: 'x' },
    onDtmf: () => () => {},
    execute: async (app: string) => { done.push(app); return {} },
    hangup: async (cause: string) => { done.push(`hangup ${cause}`) },
  }
  const { call } = createCall({
    ctx: { channel, log: pino({ level: 'silent' }), recorder: nullRecorder('u1'), commandTimeoutMs: 1000, language: 'it-IT', signal: new AbortController().signal } as never,
    did: undefined,
    defaultCountry: 'IT',
    options: {},
  })
  return { call, done }
}

// The verbs are methods now (no per-call named arrows, docs/benchmarks.md "Memory per call
// (tenth session, helper 10b)"), and still work taken apart from the call, as arrows did.
t.test('a script may take the verbs apart from the call', async (t) => {
  const { call, done } = makeCall()
  const { answer, hangup } = call
  await answer()
  await hangup('USER_BUSY')
  t.same(done, ['answer', 'hangup USER_BUSY'])
  t.same(Object.keys(call).filter((k) => typeof (call as unknown as Record<string, unknown>)[k] === 'function').sort(),
    ['answer', 'ask', 'converse', 'digits', 'hangup', 'play', 'record', 'say', 'transfer'], 'every verb is an own property')
})
