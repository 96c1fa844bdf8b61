import t from 'tap'
import { createAdmissionGuard } from '../../lib/guard/admission.ts'
import { guardSchema } from '../../lib/guard/config.ts'
import { logSink } from './helpers.ts'

// A caller refused by a prefix rule is the refusal an operator causes by configuration (a
// country not on the list): it is logged at warn, naming the rule and its prefixes, so "why is
// my line dead" is answered by the log.

t.test('a refusal by prefix is a warning that names the rule', async (t) => {
  const { logger, lines } = logSink()
  const guard = createAdmissionGuard(guardSchema.parse({ callers: { blockPrefixes: ['+39899'] } }), {
    defaultCountry: 'US', servedDids: () => true, logger,
  })
  t.teardown(() => guard.close())
  await guard.admit({ uuid: 'a', callerNumber: '+393331234567', did: '+12015550123' })
  await guard.admit({ uuid: 'b', callerNumber: '+39899123456', did: '+12015550123' })
  const admitted = await guard.admit({ uuid: 'c', callerNumber: '+12015550199', did: '+12015550123' })
  t.ok(admitted.admitted, 'a caller from the home country (US) is admitted by default')
  if (admitted.admitted) admitted.release()
  const [notAllowed, blocked] = lines.filter((l) => l.msg === 'call rejected')
  t.match(notAllowed, { level: 40, reason: 'prefix_not_allowed', caller: '+393331234567', rule: 'guard.callers.allowPrefixes', prefixes: ['+1'] })
  t.match(blocked, { level: 40, reason: 'prefix_blocked', rule: 'guard.callers.blockPrefixes', prefixes: ['+39899'] })
})

t.test('other refusals stay at info: they are the guard doing its job', async (t) => {
  const { logger, lines } = logSink()
  const guard = createAdmissionGuard(guardSchema.parse({}), { defaultCountry: 'IT', servedDids: () => true, logger })
  t.teardown(() => guard.close())
  await guard.admit({ uuid: 'a', callerNumber: 'anonymous', did: '+390212345678' })
  t.match(lines.find((l) => l.msg === 'call rejected'), { level: 30, reason: 'anonymous' })
  t.notOk(lines.some((l) => l.rule !== undefined))
})
