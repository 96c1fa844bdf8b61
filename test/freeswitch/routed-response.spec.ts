import t from 'tap'
import { Socket } from 'node:net'
import { RoutedResponse, routeEvents } from '../../lib/freeswitch/routed-response.ts'

// The channel's events reach it through one slot on esl's connection instead of a Set and a
// closure per event (~2 KB a call); everything else about emit stays esl's.

t.test('a routed event reaches the slot and counts as handled; other listeners still run', async (t) => {
  const socket = new Socket()
  const esl = new RoutedResponse(socket, { debug () {}, info () {}, error () {} })
  const seen: string[] = []
  routeEvents(esl, ['DTMF'], (event, args) => { seen.push(`${event}:${JSON.stringify(args)}`); return event === 'DTMF' })
  t.ok(esl.emit('DTMF' as never, { body: { 'DTMF-Digit': '5' } } as never), 'handled')
  t.same(seen, ['DTMF:[{"body":{"DTMF-Digit":"5"}}]'])
  let other = 0
  esl.on('CHANNEL_PARK' as never, (() => { other++ }) as never)
  t.ok(esl.emit('CHANNEL_PARK' as never, { body: {} } as never), 'its own listener: handled')
  t.equal(other, 1)
  t.equal(seen.length, 2, 'the slot sees every event')
  t.notOk(esl.emit('CHANNEL_UNPARK' as never, { body: {} } as never), 'nobody took it: not handled, as esl says')
  socket.destroy()
})

t.test('without a route: esl\'s connection as it is', async (t) => {
  const socket = new Socket()
  const esl = new RoutedResponse(socket, { debug () {}, info () {}, error () {} })
  t.notOk(esl.emit('cleanup_linger' as never, undefined as never), 'no listener')
  let n = 0
  esl.once('cleanup_linger' as never, (() => { n++ }) as never)
  t.ok(esl.emit('cleanup_linger' as never, undefined as never))
  t.equal(n, 1)
  socket.destroy()
})

t.test('a plain emitter gets a listener per event', async (t) => {
  const handlers = new Map<string, (...args: unknown[]) => void>()
  const plain = { on (event: string, h: (...args: unknown[]) => void) { handlers.set(event, h) } }
  const seen: string[] = []
  routeEvents(plain, ['DTMF', 'CHANNEL_ANSWER'], (event) => { seen.push(event); return true })
  t.same([...handlers.keys()], ['DTMF', 'CHANNEL_ANSWER'])
  handlers.get('CHANNEL_ANSWER')?.({ body: {} })
  t.same(seen, ['CHANNEL_ANSWER'])
})

t.test('an event nobody listens to leaves esl\'s tables as they were; one with a listener still runs it once', async (t) => {
  const socket = new Socket()
  const esl = new RoutedResponse(socket, { debug () {}, info () {}, error () {} })
  const tables = esl as unknown as { __on: Record<string, unknown>, __once: Record<string, unknown> }
  const keys = (): string[] => [...Object.keys(tables.__on), ...Object.keys(tables.__once)]
  const before = keys()
  t.notOk(esl.emit('CHANNEL_EXECUTE' as never, { body: {} } as never), 'not handled')
  t.notOk(esl.emit('CHANNEL_ANSWER' as never, { body: {} } as never))
  t.same(keys(), before, 'no key added')
  let n = 0
  esl.once('CHANNEL_EXECUTE_COMPLETE x' as never, (() => { n++ }) as never)
  t.ok(esl.emit('CHANNEL_EXECUTE_COMPLETE x' as never, { body: {} } as never))
  t.notOk(esl.emit('CHANNEL_EXECUTE_COMPLETE x' as never, { body: {} } as never), 'once: gone after the first')
  t.equal(n, 1)
  socket.destroy()
})

t.test('a wait on one job\'s event (a name with a space) runs once, after esl\'s own listeners, and can be taken back', async (t) => {
  const socket = new Socket()
  const esl = new RoutedResponse(socket, { debug () {}, info () {}, error () {} })
  const e = esl as unknown as { once: (n: string, h: (...a: unknown[]) => void) => void, on: (n: string, h: (...a: unknown[]) => void) => void, emit: (n: string, a: unknown) => boolean, removeListener: (n: string, h: () => void) => void, removeAllListeners: () => void }
  const tables = esl as unknown as { __once: Record<string, unknown> }
  const order: string[] = []
  e.on('BACKGROUND_JOB j1', () => { order.push('on') })
  e.once('BACKGROUND_JOB j1', (arg) => { order.push(`once:${JSON.stringify(arg)}`) })
  t.notOk('BACKGROUND_JOB j1' in tables.__once, 'not in esl\'s table')
  t.ok(e.emit('BACKGROUND_JOB j1', { body: 'ok' }))
  t.same(order, ['on', 'once:{"body":"ok"}'], 'esl\'s on() first, then the wait, with the event')
  t.ok(e.emit('BACKGROUND_JOB j1', { body: 'again' }), 'the on() listener still counts')
  t.same(order, ['on', 'once:{"body":"ok"}', 'on'], 'the wait ran once')
  const never = (): void => { order.push('never') }
  e.once('CHANNEL_EXECUTE_COMPLETE u2', never)
  e.removeListener('CHANNEL_EXECUTE_COMPLETE u2', never)
  t.notOk(e.emit('CHANNEL_EXECUTE_COMPLETE u2', { body: {} }), 'taken back: nobody handled it')
  e.once('CHANNEL_EXECUTE_COMPLETE u3', never)
  e.removeAllListeners()
  t.notOk(e.emit('CHANNEL_EXECUTE_COMPLETE u3', { body: {} }), 'removeAllListeners takes the waits too')
  t.notOk(order.includes('never'))
  socket.destroy()
})
