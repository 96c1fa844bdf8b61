import t, { type Test } from 'tap'
import { setTimeout as delay } from 'node:timers/promises'
import { FakeFreeSwitch, type PlaceCallOptions } from '../../lib/simulator/index.ts'
import { RawServer, UdpPeer } from './helpers.ts'

/**
 * The simulator's side of transfers and RTP gaps, each behaviour after FreeSWITCH's source:
 * a `bridge` resets the caller's session either way (switch_ivr_originate / audio_bridge_thread
 * -> switch_core_session_reset -> switch_ivr_deactivate_unicast); an answered bridge completes
 * with originate_disposition=SUCCESS; `originate ... &park()` answers +OK <uuid> or -ERR CAUSE;
 * uuid_bridge takes the channel out of park; a paused RTP stream is sent as 0xFF datagrams.
 */

const unicast = (remotePort: number): string =>
  `sendmsg\ncall-command: unicast\nlocal-ip: 127.0.0.1\nlocal-port: 0\nremote-ip: 127.0.0.1\nremote-port: ${remotePort}\ntransport: udp`
const execute = (app: string, arg = ''): string => `sendmsg\ncall-command: execute\nexecute-app-name: ${app}\nexecute-app-arg: ${arg}\nevent-lock: true`
const isCng = (d: Buffer): boolean => d.length === 320 && d.every((b) => b === 0xff)

async function start (t: Test, opts: Partial<PlaceCallOptions> = {}) {
  const srv = new RawServer()
  const port = await srv.listen()
  const peer = new UdpPeer()
  const peerPort = await peer.bind()
  const call = new FakeFreeSwitch().placeCall({ port, ...opts })
  await srv.connected
  await srv.command('connect')
  t.teardown(async () => { call.hangup(); await srv.close(); await call.ended; await peer.close() })
  return { srv, call, peer, peerPort }
}

async function apiBody (srv: RawServer, cmd: string): Promise<string> {
  srv.socket?.write(`api ${cmd}\n\n`)
  for (;;) {
    const f = await srv.next(10_000)
    if (f === undefined) throw new Error('closed')
    if (f.headers['Content-Type'] === 'api/response') return f.body
  }
}

for (const [name, bridge] of [
  ['nobody answers', { outcome: 'no-answer', ringMs: 200 }],
  ['is answered and ends', { outcome: 'answer', durationMs: 200 }],
] as const) {
  t.test(`a bridge that ${name} ends unicast for good (the session is reset)`, async (t) => {
    const { srv, call, peer, peerPort } = await start(t, { bridge })
    await srv.command(unicast(peerPort))
    await peer.waitFor(5)
    await srv.command(execute('set', 'continue_on_fail=true'))
    await srv.command(execute('bridge', 'sofia/gateway/trunk/+390299999999'))
    await delay(600)
    t.equal(call.unicast, undefined, 'CF_UNICAST cleared')
    const before = peer.received.length
    await srv.command(unicast(peerPort))
    await delay(300)
    t.equal(peer.received.length, before, 'a new unicast does not bring the stream back')
  })
}

t.test('an answered bridge reports originate_disposition SUCCESS; a refused one its cause', async (t) => {
  const ok = await start(t, { bridge: { outcome: 'answer', durationMs: 100 } })
  await ok.srv.command(execute('bridge', 'user/1000@x'))
  await delay(400)
  ok.call.hangup()
  const accepted = await ok.call.ended
  t.equal(accepted.variables.originate_disposition, 'SUCCESS', 'as a real FreeSWITCH reports it at the completion')
  t.equal(accepted.variables.DIALSTATUS, 'SUCCESS')
  t.equal(accepted.variables.bridge_hangup_cause, 'NORMAL_CLEARING')
  t.equal(accepted.variables.last_bridge_hangup_cause, 'NORMAL_CLEARING')

  const barred = await start(t, { bridge: { outcome: 'fail', cause: 'OUTGOING_CALL_BARRED' } })
  await barred.srv.command(execute('set', 'continue_on_fail=true'))
  await barred.srv.command(execute('bridge', 'loopback/00882123456789/phone_agent_outbound'))
  await delay(300)
  barred.call.hangup()
  const refused = await barred.call.ended
  t.equal(refused.variables.originate_disposition, 'OUTGOING_CALL_BARRED')
  t.equal(refused.variables.originate_failed_cause, 'OUTGOING_CALL_BARRED')
})

t.test('originate ... &park(): +OK uuid on answer, -ERR cause otherwise; hupall by variable cancels a ringing leg', async (t) => {
  const answered = await start(t, { bridge: { outcome: 'answer', ringMs: 50, durationMs: 5000 } })
  const uuid = '5a0a1f1e-0000-4000-8000-000000000001'
  t.equal(await apiBody(answered.srv, `originate {origination_uuid=${uuid},tag=x}user/1000@x &park()`), `+OK ${uuid}\n`)
  t.equal(await apiBody(answered.srv, `uuid_kill ${uuid}`), '+OK\n')
  t.equal(await apiBody(answered.srv, `uuid_kill ${uuid}`), '-ERR No such channel!\n')

  const busy = await start(t, { bridge: { outcome: 'fail', cause: 'USER_BUSY' } })
  t.equal(await apiBody(busy.srv, 'originate user/1000@x &park()'), '-ERR USER_BUSY\n')

  const ringing = await start(t, { bridge: { outcome: 'no-answer', ringMs: 30_000 } })
  const pending = apiBody(ringing.srv, 'originate {phone_agent_ring=abc,originate_timeout=20}user/1000@x &park()')
  await delay(100)
  // A second connection is not needed: bgapi keeps the listener free; here the blocking api
  // holds it, so cancel through the leg registry the way hupall would from another socket.
  t.equal(ringing.call.result.legs.length, 1)
  const via = ringing.call as unknown as { session: { legs: { hupall: (c: string, m: Record<string, string>) => number } } }
  t.equal(via.session.legs.hupall('ORIGINATOR_CANCEL', { phone_agent_ring: 'abc' }), 1)
  t.equal(await pending, '-ERR ORIGINATOR_CANCEL\n')
})

t.test('uuid_bridge takes the caller out of park (unicast ends) and hangup_after_bridge follows the human', async (t) => {
  const { srv, call, peer, peerPort } = await start(t, { bridge: { outcome: 'answer', ringMs: 20, durationMs: 400 } })
  await srv.command(unicast(peerPort))
  await peer.waitFor(3)
  await srv.command(execute('set', 'hangup_after_bridge=true'))
  const leg = '5a0a1f1e-0000-4000-8000-000000000002'
  t.equal(await apiBody(srv, `originate {origination_uuid=${leg}}user/1000@x &park()`), `+OK ${leg}\n`)
  t.equal(await apiBody(srv, `uuid_bridge ${call.uuid} ${leg}`), `+OK ${leg}\n`)
  t.equal(await apiBody(srv, `uuid_bridge ${call.uuid} ${leg}`), '-ERR Invalid uuid\n', 'once')
  const result = await call.ended
  t.equal(result.unicast[0]?.closedBy, 'unpark', 'unicast ended when park returned')
  t.equal(result.hungUpBy, 'caller', 'hung up when the human did')
  t.ok(result.legs[0]?.bridgedMs !== undefined)
  t.same(result.orphanLegs, [])
  t.ok(result.events.some((e) => e.name === 'CHANNEL_BRIDGE'))
})

t.test('RTP gaps (silence suppression, hold) arrive as 0xFF datagrams at the same cadence', async (t) => {
  const { srv, peer, peerPort } = await start(t, { unicastCngFrames: 2, caller: { rtpGaps: [{ atMs: 400, durationMs: 400 }] } })
  await srv.command(unicast(peerPort))
  await delay(1200)
  const got = peer.received
  const cng = got.map((d) => isCng(d.data))
  const firstReal = cng.indexOf(false)
  const gap = cng.slice(firstReal).indexOf(true)
  t.ok(firstReal >= 0 && gap > 0, 'real audio, then 0xFF fill')
  const gapLength = cng.slice(firstReal + gap).indexOf(false)
  t.ok(gapLength >= 15 && gapLength <= 25, `the gap lasted ${gapLength} frames (~400 ms)`)
  t.ok(got.every((d) => d.data.length === 320), 'every datagram is a whole frame')
})

t.test('our socket closing with socket_resume=true breaks a uuid_bridge (CS_RESET), without it the bridge stays', async (t) => {
  for (const resume of [true, false]) {
    const { srv, call } = await start(t, { bridge: { outcome: 'answer', ringMs: 20, durationMs: 800 }, variables: resume ? { socket_resume: 'true' } : {} })
    await srv.command(execute('set', 'hangup_after_bridge=true'))
    const leg = resume ? '5a0a1f1e-0000-4000-8000-000000000003' : '5a0a1f1e-0000-4000-8000-000000000004'
    await apiBody(srv, `originate {origination_uuid=${leg}}user/1000@x &park()`)
    await apiBody(srv, `uuid_bridge ${call.uuid} ${leg}`)
    await delay(100)
    await srv.command('exit')
    const result = await call.ended
    if (resume) {
      t.equal(result.hungUpBy, 'socket-closed', 'with resume: the bridge broke when our socket closed')
      const human = result.legs[0]
      t.ok(human?.answeredMs !== undefined && result.endedAtMs < human.answeredMs + 800, 'at once, before the human would have hung up')
    } else {
      t.equal(result.hungUpBy, 'caller', 'without: the human ended it')
    }
  }
})
