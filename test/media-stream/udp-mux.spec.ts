import t from 'tap'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadUdpMuxAddon } from '../../lib/media/native/udp-mux-addon.ts'
import { UdpMux, type MuxLink } from '../../lib/media/stream/udp-mux.ts'
import { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { FrameScheduler } from '../../lib/media/stream/scheduler.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'
import { captureLogs } from '../helpers/logs.ts'

// The batched shared socket (media.stream.sockets: shared) against real UDP sockets playing
// FreeSWITCH's side: each bound at the call's local-port, as switch_ivr_activate_unicast binds it.

const load = loadUdpMuxAddon()
if (load.addon === undefined) {
  // CI builds it at install (package.json postinstall): there a missing build is a failure.
  if (process.env.CI === 'true') t.fail(`the udp-mux helper must be built in CI: ${load.why}`)
  else t.test('the udp-mux helper', { skip: `not available: ${load.why}` }, () => {})
} else {
  const addon = load.addon

  async function freeswitchSide (): Promise<{ socket: dgram.Socket, received: Array<{ msg: Buffer, port: number }>, port: number }> {
    const socket = dgram.createSocket('udp4')
    const received: Array<{ msg: Buffer, port: number }> = []
    socket.on('message', (msg, rinfo) => { received.push({ msg, port: rinfo.port }) })
    socket.bind(0, '127.0.0.1')
    await once(socket, 'listening')
    return { socket, received, port: socket.address().port }
  }

  function sendFrom (socket: dgram.Socket, msg: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => { socket.send(msg, port, '127.0.0.1', (err) => { if (err !== null) reject(err); else resolve() }) })
  }

  async function until (cond: () => boolean, ms = 3000): Promise<void> {
    const end = Date.now() + ms
    while (!cond()) {
      if (Date.now() > end) throw new Error('condition not reached')
      await sleep(5)
    }
  }

  function heard (link: MuxLink): Buffer[] {
    const got: Buffer[] = []
    link.listen((msg, from) => { got.push(msg); if (from !== link.peer) throw new Error('source is not the peer') }, () => {})
    return got
  }

  const { logger } = captureLogs()

  t.test('each FreeSWITCH port\'s datagrams reach its own call; strangers are dropped', async (t) => {
    const mux = UdpMux.open(addon, '127.0.0.1', 0)
    t.teardown(() => { mux.close() })
    const a = await freeswitchSide()
    const b = await freeswitchSide()
    const stranger = await freeswitchSide()
    t.teardown(() => { a.socket.close(); b.socket.close(); stranger.socket.close() })
    const linkA = mux.link({ address: '127.0.0.1', port: a.port })
    const linkB = mux.link({ address: '127.0.0.1', port: b.port })
    const gotA = heard(linkA)
    const gotB = heard(linkB)
    t.ok(await linkA.connect(linkA.peer, logger))
    t.ok(await linkB.connect(linkB.peer, logger))
    t.equal(linkA.local.port, mux.port, 'every call advertises the one port')
    await sendFrom(a.socket, Buffer.from([1, 2, 3, 4]), mux.port)
    await sendFrom(b.socket, Buffer.from([5, 6]), mux.port)
    await sendFrom(stranger.socket, Buffer.from([9, 9]), mux.port)
    await until(() => gotA.length === 1 && gotB.length === 1 && mux.stats.foreign === 1)
    t.same([...(gotA[0] as Buffer)], [1, 2, 3, 4])
    t.same([...(gotB[0] as Buffer)], [5, 6])
    t.equal((gotA[0] as Buffer).byteOffset % 8, 0, 'aligned for a view of its samples')
    // A second call cannot take a port another call streams from.
    const again = mux.link({ address: '127.0.0.1', port: a.port })
    t.notOk(await again.connect(again.peer, logger))
    // A call gone: its port's datagrams are strangers' now.
    await linkA.close()
    await sendFrom(a.socket, Buffer.from([1, 2]), mux.port)
    await until(() => mux.stats.foreign === 2)
    t.equal(gotA.length, 1)
  })

  t.test('a tick\'s frames for every call go out together, from the shared port, copied at send', async (t) => {
    const mux = UdpMux.open(addon, '127.0.0.1', 0)
    t.teardown(() => { mux.close() })
    const sides = await Promise.all([freeswitchSide(), freeswitchSide(), freeswitchSide()])
    t.teardown(() => { for (const s of sides) s.socket.close() })
    const links = sides.map((s) => mux.link({ address: '127.0.0.1', port: s.port }))
    for (const link of links) await link.connect(link.peer, logger)
    const frame = Buffer.alloc(320)
    const results: Array<Error | null> = []
    for (let i = 0; i < links.length; i++) {
      frame.fill(i + 1) // the same buffer, refilled: what was sent must not change
      links[i]?.send(frame, (err) => { results.push(err) })
    }
    t.same(results, [], 'nothing has gone out before the tick ends')
    await until(() => sides.every((s) => s.received.length === 1))
    t.same(results, [null, null, null])
    for (let i = 0; i < sides.length; i++) {
      const got = sides[i]?.received[0]
      t.equal(got?.port, mux.port)
      t.equal(got?.msg.length, 320)
      t.ok(got?.msg.every((byte) => byte === i + 1), `call ${i} got its own frame`)
    }
    t.equal(mux.stats.sent, 3)
    t.equal(mux.stats.sendDropped, 0)
  })

  t.test('a burst larger than one batch is read whole; an oversized datagram comes up empty', async (t) => {
    const mux = UdpMux.open(addon, '127.0.0.1', 0)
    t.teardown(() => { mux.close() })
    const side = await freeswitchSide()
    t.teardown(() => { side.socket.close() })
    const link = mux.link({ address: '127.0.0.1', port: side.port })
    const got = heard(link)
    await link.connect(link.peer, logger)
    const burst = addon.BATCH * 3 + 5
    await Promise.all(Array.from({ length: burst }, (_, i) => sendFrom(side.socket, Buffer.alloc(320, i & 0xff), mux.port)))
    await until(() => got.length === burst)
    t.ok(got.every((msg, i) => msg.length === 320 && msg[0] === (i & 0xff)), 'in order, each intact')
    await sendFrom(side.socket, Buffer.alloc(addon.SLOT + 100, 7), mux.port)
    await until(() => got.length === burst + 1)
    t.equal(got[burst]?.length, 0, 'cut datagrams are not passed on as audio')
  })

  t.test('a readable socket is read after the gathering wait, and each datagram keeps its arrival time', async (t) => {
    const mux = UdpMux.open(addon, '127.0.0.1', 0, 30)
    t.teardown(() => { mux.close() })
    const side = await freeswitchSide()
    t.teardown(() => { side.socket.close() })
    const link = mux.link({ address: '127.0.0.1', port: side.port })
    const ages: number[] = []
    const msgs: Buffer[] = []
    link.listen((msg, _from, ageMs) => { ages.push(ageMs); msgs.push(msg) })
    await link.connect(link.peer, logger)
    const sentAt = performance.now()
    const lengths = [320, 3, 320, 6, 320] // odd ones must not shift the next frame off alignment
    for (let i = 0; i < 5; i++) await sendFrom(side.socket, Buffer.alloc(lengths[i] as number, i + 1), mux.port)
    await until(() => ages.length === 5)
    const waited = performance.now() - sentAt
    // libuv's timer may fire a few ms early (its clock is in whole ms, read once per loop pass).
    t.ok(waited >= 15, `read after the wait (${waited.toFixed(1)} ms)`)
    t.ok((ages[0] as number) >= 15 && (ages[0] as number) <= waited + 5, `the first datagram's age is the wait (${ages[0]?.toFixed(1)} ms), from the kernel's timestamp`)
    t.ok(ages.every((age, i) => i === 0 || age <= (ages[i - 1] as number)), 'later datagrams are younger')
    t.equal(mux.stats.wakeUps, 1, 'one wake-up for the five')
    // One allocation for the wake-up (batch-memory.ts), each datagram its own bytes in it.
    t.ok(msgs.every((m) => m.buffer === msgs[0]?.buffer), 'the five share one allocation')
    t.same(msgs.map((m) => m.length), lengths)
    t.ok(msgs.every((m) => m.byteOffset % 8 === 0), 'each aligned')
    ;(msgs[2] as Buffer).fill(0) // the endpoint zeroes a 0xFF gap frame in place
    t.ok(msgs.every((m, i) => i === 2 || m.every((byte) => byte === i + 1)), 'zeroing one leaves the others as they came')
  })

  t.test('binding: a port in use names the setting; a closed socket refuses sends', async (t) => {
    const first = UdpMux.open(addon, '127.0.0.1', 0)
    let error: unknown
    try { UdpMux.open(addon, '127.0.0.1', first.port) } catch (err) { error = err }
    t.ok(isPhoneAgentError(error) && error.code === 'CONFIG_INVALID' && /media\.stream\.sockets/.test(error.message), String(error))
    try { UdpMux.open(addon, '::1', 0) } catch (err) { error = err }
    t.match(String(error), /IPv4/)
    // A range: a free port of it, not the one taken.
    const ranged = UdpMux.open(addon, '127.0.0.1', { min: first.port, max: first.port + 1 })
    t.equal(ranged.port, first.port + 1)
    ranged.close()
    const link = first.link({ address: '127.0.0.1', port: 9 })
    await link.connect(link.peer, logger)
    first.close()
    const results: Array<Error | null> = []
    link.send(Buffer.alloc(4), (err) => { results.push(err) })
    t.equal(results.length, 1)
    t.ok(results[0] instanceof Error)
    t.throws(() => first.link({ address: '127.0.0.1', port: 10 }))
  })

  t.test('a MediaEndpoint on the shared socket: the caller\'s frames in, ours out', async (t) => {
    const mux = UdpMux.open(addon, '127.0.0.1', 0)
    t.teardown(() => { mux.close() })
    const side = await freeswitchSide()
    t.teardown(() => { side.socket.close() })
    const scheduler = new FrameScheduler() // real time: no subscriber left, no timer left
    const endpoint = await MediaEndpoint.open({ rate: 8000, mux, peer: { address: '127.0.0.1', port: side.port }, scheduler, logger })
    t.equal(endpoint.advertisedAddress.port, mux.port)
    const frames: number[] = []
    endpoint.onFrame((frame) => { frames.push(frame.samples[0] as number) })
    const speech = Buffer.alloc(320)
    speech.writeInt16LE(1234, 0)
    await sendFrom(side.socket, speech, mux.port)
    await until(() => frames.length === 1)
    t.same(frames, [1234])
    const tone = new Int16Array(160 * 3).fill(500)
    const playout = endpoint.enqueue(tone)
    const result = await playout.done
    t.equal(result.status, 'sent')
    await until(() => side.received.some((r) => r.msg.readInt16LE(0) === 500))
    t.ok(side.received.every((r) => r.port === mux.port && r.msg.length === 320))
    // A FreeSWITCH port another live call still holds (the kernel handed out a port just freed):
    // that call gets a socket of its own, not a call without audio.
    await endpoint.close()
    const holder = await MediaEndpoint.open({ rate: 8000, mux, peer: { address: '127.0.0.1', port: side.port }, scheduler, logger })
    const second = await MediaEndpoint.open({ rate: 8000, mux, peer: { address: '127.0.0.1', port: side.port }, scheduler, logger })
    t.equal(holder.advertisedAddress.port, mux.port)
    t.not(second.advertisedAddress.port, mux.port, 'a socket of its own')
    await holder.close()
    await second.close()
    t.equal(mux.links, 0, 'the call\'s port is free again')
  })

  t.test('one send buffer serves a call on the shared socket: each frame is copied as it is sent', async (t) => {
    const mux = UdpMux.open(addon, '127.0.0.1', 0)
    t.teardown(() => { mux.close() })
    const side = await freeswitchSide()
    t.teardown(() => { side.socket.close() })
    const endpoint = await MediaEndpoint.open({ rate: 8000, mux, peer: { address: '127.0.0.1', port: side.port }, scheduler: new FrameScheduler(), logger })
    t.teardown(async () => { await endpoint.close() })
    const heard: number[] = []
    endpoint.onSent((frame) => { heard.push(frame.readInt16LE(0)) })
    await sendFrom(side.socket, Buffer.alloc(320), mux.port)
    await until(() => endpoint.stats.received === 1)
    // Twenty frames, each its own value: a buffer reused before its copy was taken would repeat one.
    const reply = new Int16Array(160 * 20)
    for (let k = 0; k < 20; k++) reply.fill(k + 1, k * 160, (k + 1) * 160)
    t.equal((await endpoint.enqueue(reply).done).status, 'sent')
    await until(() => side.received.filter((r) => r.msg.readInt16LE(0) > 0).length === 20)
    t.same(side.received.map((r) => r.msg.readInt16LE(0)).filter((v) => v > 0), Array.from({ length: 20 }, (_, k) => k + 1), 'every frame as it was, in order')
    t.same(heard.filter((v) => v > 0), Array.from({ length: 20 }, (_, k) => k + 1), 'what the echo guard is told we sent, too')
    t.equal(endpoint.stats.sendBuffersGrown, 0, 'no buffer added')
  })
}
