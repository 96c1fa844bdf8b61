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
