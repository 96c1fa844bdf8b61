import t from 'tap'
import { pino } from 'pino'
import { DeadAir, type DeadAirOptions } from '../../lib/call/conversation/dead-air.ts'
import type { PhoneAgentError } from '../../lib/errors.ts'

/** The clock alone, with a few-millisecond budget: what it decides, in what order (no speeds). */

const log = pino({ enabled: false })

/** Waits for the clock to have done something (an order, not a speed). */
async function until (check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5))
}

function clock (overrides: Partial<DeadAirOptions> = {}): { dead: DeadAir, events: string[], expired: Promise<PhoneAgentError>, fills: AbortSignal[] } {
  const events: string[] = []
  const fills: AbortSignal[] = []
  let resolveExpired!: (e: PhoneAgentError) => void
  const expired = new Promise<PhoneAgentError>((resolve) => { resolveExpired = resolve })
  const controller = new AbortController()
  const dead = new DeadAir({
    budgetMs: 30,
    maxFillers: 2,
    fill: async (signal) => {
      fills.push(signal)
      events.push('filler')
      await new Promise((resolve) => setTimeout(resolve, 20))
    },
    mayFill: () => true,
    expire: (reason) => { events.push('expired'); controller.abort(reason); resolveExpired(reason) },
    signal: controller.signal,
    log,
    ...overrides,
  })
  return { dead, events, expired, fills }
}

t.test('a wait that never ends: two fillers, each after a silence of the budget, then expiry', async (t) => {
  const { dead, events, expired } = clock()
  dead.owe()
  const reason = await expired
  t.same(events, ['filler', 'filler', 'expired'])
  t.equal(reason.code, 'PROVIDER_TIMEOUT')
  t.match(reason.message, /heard nothing for 30 ms \(2 fillers played\)/)
  t.equal(dead.fillers, 2)
  dead.dispose()
})

t.test('once the answer has started, a silence over budget expires without a filler', async (t) => {
  const { dead, events, expired } = clock({ mayFill: () => false })
  dead.owe()
  await expired
  t.same(events, ['expired'])
  dead.dispose()
})

t.test('sound stops the clock; the answer waits for a filler in progress', async (t) => {
  const { dead, events } = clock({ maxFillers: 1 })
  dead.owe()
  await until(() => events.length > 0)
  t.same(events, ['filler'], 'the filler started')
  await dead.lineFree()
  events.push('answer')
  dead.sound()
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.same(events, ['filler', 'answer'], 'nothing owed while the answer plays: no expiry')
  t.notOk(dead.expired)
  dead.dispose()
})

t.test('the caller talking over the filler cuts it, and nothing is owed until they stop again', async (t) => {
  const { dead, events, fills } = clock()
  dead.owe()
  await until(() => events.length > 0)
  dead.callerSpeaking()
  t.equal((fills[0]?.reason as PhoneAgentError | undefined)?.code, 'BARGE_IN', 'the filler was cut')
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.same(events, ['filler'], 'no second filler, no expiry while the caller speaks')
  dead.dispose()
})

t.test('a filler that cannot play leaves the turn deadline as the only bound', async (t) => {
  const { dead, events, expired } = clock({ fill: async () => { events.push('filler'); throw new Error('not pre-rendered') } })
  dead.owe()
  dead.deadlineAt(Date.now() + 150, 150)
  const reason = await expired
  t.same(events, ['filler', 'expired'], 'no second attempt, no expiry at the budget')
  t.match(reason.message, /no reply audio within 150 ms/)
  dead.dispose()
})

t.test('dispose ends the filler and every timer', async (t) => {
  const { dead, events, fills } = clock()
  dead.owe()
  dead.deadlineAt(Date.now() + 60_000, 60_000)
  await until(() => events.length > 0)
  dead.dispose()
  t.equal((fills[0]?.reason as PhoneAgentError | undefined)?.code, 'TURN_OVER')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(events, ['filler'], 'nothing after dispose')
})
