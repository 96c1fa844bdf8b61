import t from 'tap'
import { pino, type Logger } from 'pino'
import { callChild, callLogger } from '../../lib/call/child-logger.ts'
import { createLogger } from '../../lib/ops/logger.ts'

// A per-call logger's children (the conversation's {verb}, each turn's {turn}, the stream's
// {module}) are made beside it, from its shared parent, so that no per-call logger becomes a
// prototype (a V8 map of its own, and one for each child: ~400 B each a call). Their lines must
// be what log.child(bindings) writes, byte for byte.

/** A logger whose lines (without the time) land in an array. */
function lines (level = 'debug'): { root: Logger, out: string[] } {
  const out: string[] = []
  const root = createLogger(level, { write (line: string) { out.push(line.replace(/"time":\d+,/, '')) } })
  return { root, out }
}

t.test('the same lines as log.child, made from the shared parent', async (t) => {
  const { root, out } = lines()
  const call = root.child({ call: '6f0c8e2a-1b2c-4d3e-8f90-a1b2c3d4e5f6', did: '+390212345678' })
  const plainVerb = call.child({ verb: 'converse' })
  const plainTurn = plainVerb.child({ turn: 3 })
  const verb = callChild(call, { verb: 'converse' })
  const turn = callChild(verb, { turn: 3 })
  t.equal(Object.getPrototypeOf(verb), root, 'the verb logger hangs off the root')
  t.equal(Object.getPrototypeOf(turn), root, 'so does the turn logger')
  plainTurn.info({ sentence: 2, heardMs: 840 }, 'reply interrupted by the caller')
  turn.info({ sentence: 2, heardMs: 840 }, 'reply interrupted by the caller')
  plainVerb.warn({ code: 'PROVIDER_TIMEOUT' }, 'conversation falling back')
  verb.warn({ code: 'PROVIDER_TIMEOUT' }, 'conversation falling back')
  plainTurn.debug('preemptive reply started')
  turn.debug('preemptive reply started')
  t.equal(out.length, 6)
  t.equal(out[1], out[0])
  t.equal(out[3], out[2])
  t.equal(out[5], out[4])
  t.match(out[1], /"call":"6f0c8e2a-[^"]+","did":"\+390212345678","verb":"converse","turn":3,"sentence":2,"heardMs":840,"msg":"reply interrupted by the caller"/)
  t.same(turn.bindings(), plainTurn.bindings())
  t.equal(call.bindings().verb, undefined, 'the per-call logger itself is untouched')
})

t.test('the per-call logger\'s level, not its parent\'s', async (t) => {
  const { root, out } = lines('info')
  const call = root.child({ call: 'c' }, { level: 'debug' })
  const verb = callChild(call, { verb: 'converse' })
  t.equal(verb.level, 'debug')
  verb.debug('seen')
  t.equal(out.length, 1)
  t.equal(root.level, 'info', 'the root keeps its own')
})

t.test('a root logger (no shared parent) gets a plain child', async (t) => {
  const { root, out } = lines()
  const child = callChild(root, { module: 'stream' })
  t.equal(Object.getPrototypeOf(child), root)
  child.info('x')
  t.match(out[0], /"service":"phone-agent","module":"stream","msg":"x"/)
  const bare = pino({ level: 'info' }, { write () {} })
  t.equal(Object.getPrototypeOf(callChild(bare, { a: 1 })), bare)
})

t.test('callLogger: the lines of root.child, every call under one bare child that shares its formatters', async (t) => {
  const { root, out } = lines()
  const a = callLogger(root, { call: 'a', did: '+390212345678' })
  const b = callLogger(root, { call: 'b', did: null })
  t.equal(Object.getPrototypeOf(a), Object.getPrototypeOf(b), 'one parent for every call')
  t.not(Object.getPrototypeOf(a), root)
  const { formattersSym } = pino.symbols
  const formatters = (x: Logger): unknown => (x as unknown as Record<symbol, unknown>)[formattersSym]
  t.equal(formatters(a), formatters(b), 'no formatters object of their own')
  t.equal(formatters(callChild(a, { verb: 'converse' })), formatters(a), 'nor the children made beside them')
  a.warn({ code: 'X' }, 'm')
  root.child({ call: 'a', did: '+390212345678' }).warn({ code: 'X' }, 'm')
  t.equal(out[0], out[1])
  b.warn('n')
  t.match(out[2], /"service":"phone-agent","call":"b","did":null,"msg":"n"/)
})
