import { EventEmitter } from 'node:events'
import t from 'tap'
import { ShutdownController, type ShutdownTarget } from '../../lib/ops/shutdown.ts'
import { logSink } from '../records/helpers.ts'
import { beyondBaseline } from '../helpers/specs.ts'

/**
 * A fake call server and a fake clock: `sleep` advances time at once, and `onTick` lets a
 * test end calls as time passes. Every step is written to `steps` so the order is asserted.
 */
function harness (opts: { calls: number, endAfterMs?: number, endAllWorks?: boolean, deadlineMs?: number, stopFails?: boolean }) {
  const steps: string[] = []
  let now = 0
  let active = opts.calls
  let accepting = true
  const target: ShutdownTarget = {
    async stopAccepting () {
      steps.push('stopAccepting')
      if (opts.stopFails === true) throw new Error('cannot stop')
      accepting = false
    },
    activeCalls: () => active,
    async endAll (reason) {
      steps.push(`endAll:${reason}:${active}`)
      if (opts.endAllWorks !== false) active = 0
    },
  }
  const { logger, lines } = logSink()
  const exits: number[] = []
  const controller = new ShutdownController({
    target,
    deadlineMs: opts.deadlineMs ?? 30_000,
    endGraceMs: 5_000,
    pollMs: 250,
    logger,
    finalize: async () => { steps.push(`finalize:${active}`) },
    exit: (code) => { steps.push(`exit:${code}`); exits.push(code) },
    now: () => now,
    sleep: async (ms) => {
      now += ms
      if (opts.endAfterMs !== undefined && now >= opts.endAfterMs) active = 0
    },
  })
  return { controller, steps, lines, exits, accepting: () => accepting, now: () => now }
}

t.test('calls that finish before the deadline are left alone', async (t) => {
  const h = harness({ calls: 2, endAfterMs: 4_000 })
  t.equal(h.controller.state, 'running')
  const done = h.controller.shutdown('SIGTERM')
  t.equal(h.controller.state, 'draining', 'draining at once, so /healthz turns 503')
  await done
  t.same(h.steps, ['stopAccepting', 'finalize:0', 'exit:0'])
  t.equal(h.controller.state, 'stopped')
  t.ok(h.now() >= 4_000 && h.now() < 30_000, 'waited for the calls, not the whole deadline')
  t.notOk(h.accepting())
})

t.test('at the deadline the remaining calls are asked to end, then storage closes', async (t) => {
  const h = harness({ calls: 3 })
  await h.controller.shutdown('SIGTERM')
  t.same(h.steps, ['stopAccepting', 'endAll:shutdown:3', 'finalize:0', 'exit:0'])
  t.equal(h.now(), 30_000, 'waited exactly the deadline')
  t.match(h.lines.find((l) => l.msg === 'shutdown deadline reached; ending calls'), { level: 40, activeCalls: 3 })
})

t.test('calls that will not end cost at most the grace period, and exit code 1', async (t) => {
  const h = harness({ calls: 1, endAllWorks: false, deadlineMs: 1_000 })
  await h.controller.shutdown('SIGTERM')
  t.same(h.steps, ['stopAccepting', 'endAll:shutdown:1', 'finalize:1', 'exit:1'])
  t.equal(h.now(), 6_000)
})

t.test('no calls: straight through', async (t) => {
  const h = harness({ calls: 0 })
  await h.controller.shutdown('SIGTERM')
  t.same(h.steps, ['stopAccepting', 'finalize:0', 'exit:0'])
  t.equal(h.now(), 0)
})

t.test('a failing step still closes storage', async (t) => {
  const h = harness({ calls: 1, stopFails: true })
  await h.controller.shutdown('SIGTERM')
  t.same(h.steps, ['stopAccepting', 'finalize:1', 'exit:1'])
  t.match(h.lines.find((l) => l.msg === 'shutdown step failed'), { level: 50, err: { message: 'cannot stop' } })
})

t.test('signals: the first starts the sequence once, a second exits at once', async (t) => {
  const h = harness({ calls: 1, endAfterMs: 1_000 })
  const proc = new EventEmitter()
  const uninstall = h.controller.install(proc as unknown as NodeJS.Process)
  t.equal(proc.listenerCount('SIGTERM'), 1)
  t.equal(proc.listenerCount('SIGINT'), 1)
  const first = h.controller.shutdown('test')
  t.equal(h.controller.shutdown('again'), first, 'idempotent')
  proc.emit('SIGINT', 'SIGINT')
  t.same(h.exits, [1], 'second signal: immediate exit 1')
  await first
  uninstall()
  t.equal(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT'), 0, 'handlers removed')

  const h2 = harness({ calls: 0 })
  const proc2 = new EventEmitter()
  const uninstall2 = h2.controller.install(proc2 as unknown as NodeJS.Process)
  proc2.emit('SIGTERM', 'SIGTERM')
  await h2.controller.shutdown('ignored')
  uninstall2()
  t.same(h2.steps, ['stopAccepting', 'finalize:0', 'exit:0'])
  t.match(h2.lines.find((l) => l.msg === 'shutting down; no new calls'), { reason: 'SIGTERM' })
})

t.test('default sleep uses real timers and leaves none behind', async (t) => {
  let active = 1
  const exits: number[] = []
  const c = new ShutdownController({
    target: { stopAccepting: async () => { setTimeout(() => { active = 0 }, 30) }, activeCalls: () => active, endAll: async () => {} },
    deadlineMs: 10_000, pollMs: 10, logger: logSink().logger, finalize: async () => {}, exit: (code) => { exits.push(code) },
  })
  await c.shutdown('SIGTERM')
  t.same(exits, [0])
  t.same(beyondBaseline(process.getActiveResourcesInfo()).filter((r) => r === 'Timeout'), [], 'no timers left')
})
