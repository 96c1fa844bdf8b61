import t, { type Test } from 'tap'
import { setTimeout as delay } from 'node:timers/promises'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { activeHandles, RawServer } from './helpers.ts'

async function setup (t: Test, opts: Record<string, unknown> = {}) {
  const srv = new RawServer()
  const port = await srv.listen()
  const fs = new FakeFreeSwitch()
  const call = fs.placeCall({ port, callerName: 'Mário Rössi', ...opts })
  await srv.connected
  t.teardown(async () => { call.hangup(); await srv.close(); await call.ended })
  return { srv, call }
}

t.test('connect reply is the serialized CHANNEL_DATA event, url-encoded, without Content-Length', async (t) => {
  const { srv, call } = await setup(t, { omitHeaders: ['variable_sip_req_user'] })
  const reply = await srv.command('connect')
  if (reply === undefined) throw new Error('no reply')
  const lines = reply.headerText.split('\n')
  t.equal(lines[0], 'Event-Name: CHANNEL_DATA')
  t.same(lines.slice(-4), ['Content-Type: command/reply', 'Reply-Text: %2BOK%0A', 'Socket-Mode: async', 'Control: full'])
  t.equal(reply.headers['Content-Length'], undefined)
  t.equal(reply.headers['Unique-ID'], call.uuid)
  t.equal(reply.headers['Caller-Caller-ID-Number'], '%2B393331234567')
  t.equal(reply.headers['Caller-Caller-ID-Name'], 'M%C3%A1rio%20R%C3%B6ssi')
  t.equal(reply.headers['Channel-Name'], 'sofia/external/%2B393331234567%40192.0.2.10')
  t.equal(reply.headers.variable_sip_to_user, '%2B390212345678')
  t.equal(reply.headers.variable_sip_req_user, undefined, 'omitted header is missing')
})

t.test('the first command gets no reply unless it is connect; unknown commands get -ERR', async (t) => {
  const { srv } = await setup(t)
  srv.socket?.write('linger\n\n')
  await t.rejects(srv.next(300), /no frame/)
  t.match((await srv.command('connect'))?.headers['Event-Name'], 'CHANNEL_DATA')
  t.equal((await srv.command('bogus thing'))?.headers['Reply-Text'], '-ERR command not found')
  t.equal((await srv.command('filter Unique-ID'))?.headers['Reply-Text'], '-ERR invalid syntax')
  t.equal((await srv.command('event json NOT_AN_EVENT'))?.headers['Reply-Text'], '-ERR no keywords supplied')
  t.equal((await srv.command('linger 5'))?.headers['Reply-Text'], '+OK will linger 5 seconds')
  t.equal((await srv.command('sendmsg 00000000-dead\ncall-command: hangup'))?.headers['Reply-Text'], '-ERR invalid session id [00000000-dead]')
})

t.test('events: subscription, filters, JSON and plain with multibyte Content-Length', async (t) => {
  const { srv, call } = await setup(t, { variables: { greeting: 'Grüß Gott €' } })
  await srv.command('connect')
  t.equal((await srv.command(`filter Unique-ID ${call.uuid}`))?.headers['Reply-Text'], `+OK filter added. [Unique-ID]=[${call.uuid}]`)
  t.equal((await srv.command('event json CHANNEL_EXECUTE_COMPLETE'))?.headers['Reply-Text'], '+OK event listener enabled json')
  await srv.command(`sendmsg\ncall-command: execute\nexecute-app-name: answer\nEvent-UUID: u-1`)
  const ev = await srv.next()
  if (ev === undefined) throw new Error('no event')
  t.equal(ev.headers['Content-Type'], 'text/event-json')
  t.equal(Number(ev.headers['Content-Length']), ev.bodyBytes, 'Content-Length counts bytes')
  const body = JSON.parse(ev.body) as Record<string, string>
  t.equal(body['Event-Name'], 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_EXECUTE and CHANNEL_ANSWER were not subscribed')
  t.equal(body['Application-UUID'], 'u-1')
  t.equal(body['Application-Response'], '_none_')
  t.equal(body.variable_greeting, 'Grüß Gott €')

  t.equal((await srv.command('event plain CHANNEL_EXECUTE'))?.headers['Reply-Text'], '+OK event listener enabled plain')
  await srv.command(`sendmsg\ncall-command: execute\nexecute-app-name: set\nexecute-app-arg: x=Ä`)
  const ex = await srv.next()
  const exc = await srv.next()
  if (ex === undefined || exc === undefined) throw new Error('no events')
  t.equal(ex.headers['Content-Type'], 'text/event-plain')
  t.equal(Number(ex.headers['Content-Length']), ex.bodyBytes)
  t.match(ex.body, /^Event-Name: CHANNEL_EXECUTE\n/)
  t.match(ex.body, /\nvariable_greeting: Gr%C3%BC%C3%9F%20Gott%20%E2%82%AC\n/)
  t.ok(ex.body.endsWith('\n\n'), 'a plain event without body ends with a blank line')
  t.match(exc.body, /Application-Data: x%3D%C3%84\n/)

  // A filter on another channel's UUID only: nothing passes.
  await srv.command(`filter delete Unique-ID ${call.uuid}`)
  await srv.command('filter Unique-ID someone-else')
  await srv.command(`sendmsg\ncall-command: execute\nexecute-app-name: set\nexecute-app-arg: y=1`)
  await t.rejects(srv.next(300), /no frame/)
  t.equal(call.events.filter((e) => e.name === 'CHANNEL_EXECUTE_COMPLETE' && !e.delivered).length, 1)
})

t.test('without linger the hangup events are lost and the socket closes with a disconnect notice', async (t) => {
  const { srv, call } = await setup(t)
  await srv.command('connect')
  await srv.command('event json ALL')
  call.hangup('USER_BUSY')
  const notice = await srv.next()
  t.equal(notice?.headers['Content-Type'], 'text/disconnect-notice')
  t.equal(notice?.headers['Content-Disposition'], 'disconnect')
  t.equal(await srv.next(), undefined, 'then the socket closes')
  const res = await call.ended
  t.equal(res.hangupCause, 'USER_BUSY')
  t.equal(res.hungUpBy, 'caller')
  t.notOk(res.events.find((e) => e.name === 'CHANNEL_HANGUP')?.delivered)
})

t.test('an unknown application hangs up with DESTINATION_OUT_OF_ORDER and no CHANNEL_EXECUTE', async (t) => {
  const { srv, call } = await setup(t)
  await srv.command('connect')
  await srv.command('linger')
  await srv.command('event plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP')
  t.equal((await srv.command(`sendmsg\ncall-command: execute\nexecute-app-name: no_such_app`))?.headers['Reply-Text'], '+OK')
  const hangup = await srv.next()
  t.match(hangup?.body, /^Event-Name: CHANNEL_HANGUP\n/)
  t.match(hangup?.body, /\nHangup-Cause: DESTINATION_OUT_OF_ORDER\n/)
  t.equal((await srv.next())?.headers['Content-Disposition'], 'linger')
  srv.socket?.write('exit\n\n')
  t.equal((await srv.next())?.headers['Reply-Text'], '+OK bye')
  const res = await call.ended
  t.equal(res.apps.length, 0)
  t.equal(res.hungUpBy, 'server')
  t.ok(res.exitReceived)
})

t.test('without event-lock a second execute runs nested inside a running one', async (t) => {
  const { srv, call } = await setup(t)
  await srv.command('connect')
  await srv.command('event json CHANNEL_EXECUTE_COMPLETE')
  await srv.command(`sendmsg\ncall-command: execute\nexecute-app-name: sleep\nexecute-app-arg: 400\nEvent-UUID: outer`)
  await delay(100)
  await srv.command(`sendmsg\ncall-command: execute\nexecute-app-name: set\nexecute-app-arg: a=1\nEvent-UUID: inner`)
  const first = JSON.parse((await srv.next())?.body ?? '{}') as Record<string, string>
  const second = JSON.parse((await srv.next())?.body ?? '{}') as Record<string, string>
  t.equal(first['Application-UUID'], 'inner')
  t.equal(second['Application-UUID'], 'outer')
  t.ok(call.apps.find((a) => a.appUuid === 'inner')?.nested)
})

t.test('socket closed by our server while idle: the channel hangs up', async (t) => {
  const { srv, call } = await setup(t)
  await srv.command('connect')
  srv.socket?.end()
  const res = await call.ended
  t.equal(res.hungUpBy, 'socket-closed')
  t.equal(res.hangupCause, 'NORMAL_CLEARING')
})

t.test('no sockets or timers left behind', async (t) => {
  await delay(50)
  t.same(activeHandles(), [])
})
