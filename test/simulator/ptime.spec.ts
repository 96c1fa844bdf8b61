import t, { type Test } from 'tap'
import { setTimeout as delay } from 'node:timers/promises'
import { FakeFreeSwitch, type PlaceCallOptions } from '../../lib/simulator/index.ts'
import { alawToLinear, linearToAlaw } from '../../lib/simulator/g711.ts'
import { constantFrame, RawServer, UdpPeer } from './helpers.ts'
import { until } from '../helpers/until.ts'

/**
 * A call at another packet time than 20 ms (`a=ptime:30` in the caller's offer, which FreeSWITCH
 * keeps; helper 15a on a real FreeSWITCH, docs/freeswitch-pack.md "Packet time"): unicast's L16
 * codec is made at it (switch_ivr.c switch_ivr_activate_unicast 444-452), so every datagram
 * either way is one packet of it, and ours are written one per packet tick.
 */

const FRAMES = 60
const patternValue = (k: number): number => ((k * 7919) % 4000) - 2000
/** Caller audio whose 20 ms frames each hold one value. */
const pattern = Buffer.concat(Array.from({ length: FRAMES }, (_, k) => constantFrame(patternValue(k))))
const viaAlaw = (v: number): number => alawToLinear(linearToAlaw(v))
const unicast = (remotePort: number): string =>
  `sendmsg\ncall-command: unicast\nlocal-ip: 127.0.0.1\nlocal-port: 0\nremote-ip: 127.0.0.1\nremote-port: ${remotePort}\ntransport: udp`
const samplesOf = (d: Buffer): number[] => Array.from({ length: d.length / 2 }, (_, i) => d.readInt16LE(i * 2))
const ramp = (samples: number, from: number): Buffer => {
  const b = Buffer.alloc(samples * 2)
  for (let i = 0; i < samples; i++) b.writeInt16LE(from + i, i * 2)
  return b
}

async function start (t: Test, opts: Partial<PlaceCallOptions> = {}) {
  const srv = new RawServer()
  const port = await srv.listen()
  const peer = new UdpPeer()
  const peerPort = await peer.bind()
  const call = new FakeFreeSwitch().placeCall({ port, ptimeMs: 30, ...opts })
  await srv.connected
  await srv.command('connect')
  t.teardown(async () => { call.hangup(); await srv.close(); await call.ended; await peer.close() })
  await srv.command(unicast(peerPort))
  await peer.waitFor(1)
  return { call, peer }
}

t.test('ptime 30: the caller streams 480-byte packets, the 0xFF fill too, the audio whole and in order', async (t) => {
  const { peer } = await start(t, { unicastCngFrames: 2, caller: { audio: [{ atMs: 0, wav: pattern }] } })
  await peer.waitFor(2 + 20)
  const got = peer.received.map((d) => d.data)
  t.ok(got.every((d) => d.length === 480), 'every datagram 30 ms of 8 kHz L16')
  t.ok(got.slice(0, 2).every((d) => d.every((b) => b === 0xff)), 'the fill is a packet long')
  const samples = got.slice(2).flatMap(samplesOf)
  // The stream starts wherever the caller was when unicast began: from its first whole frame on,
  // every 160 samples hold the next frame's value.
  const first = samples.findIndex((v, i) => i > 0 && v !== samples[i - 1])
  const k0 = Array.from({ length: FRAMES }, (_, k) => k).find((k) => viaAlaw(patternValue(k)) === samples[first])
  t.not(k0, undefined, 'a frame of the caller\'s audio')
  const frames = Math.floor((samples.length - first) / 160)
  t.ok(frames >= 20)
  const expected = Array.from({ length: frames * 160 }, (_, i) => viaAlaw(patternValue((k0 ?? 0) + Math.floor(i / 160))))
  t.same(samples.slice(first, first + frames * 160), expected, 'the caller\'s audio, no sample lost or moved')
})

t.test('ptime 30: our 480-byte datagrams play whole, one per 30 ms tick', async (t) => {
  const { call, peer } = await start(t)
  await Promise.all(Array.from({ length: 10 }, async (_, k) => { await peer.send(ramp(240, 1000 * (k + 1))) }))
  await until(() => call.ear.heard.length === 10)
  const heard = call.ear.heard
  t.ok(heard.every((f, k) => f.samples.length === 240 && f.samples[0] === 1000 * (k + 1) && f.samples[239] === 1000 * (k + 1) + 239), 'each as sent')
  t.ok(heard.slice(1).every((f, k) => f.playMs - (heard[k]?.playMs ?? 0) === 30), 'back to back, 30 ms apart')
  t.equal(call.ear.lastHeardEndMs(), (heard[0]?.playMs ?? 0) + 300, 'a burst of 300 ms plays for 300 ms')
})

t.test('ptime 30: a line echo reads what the caller heard, a 30 ms packet reaching two 20 ms slots past its own', async (t) => {
  // The 'sleep' write timer writes 30 ms after each datagram's arrival: packets start anywhere in a
  // slot. Ten packets back to back start at two phases 10 ms apart; when those are 0 and 10 ms
  // (about one call in ten), none starts past the middle: a new call then, up to five.
  const pastMiddle = (f: { playMs: number }): boolean => Math.round(f.playMs * 8) % 160 > 80
  let call!: Awaited<ReturnType<typeof start>>['call']
  for (let attempt = 0; attempt < 5; attempt++) {
    const started = await start(t, { writeTimer: 'sleep' })
    call = started.call
    await Promise.all(Array.from({ length: 10 }, async (_, k) => { await started.peer.send(ramp(240, 1000 * (k + 1))) }))
    await until(() => call.ear.heard.length === 10)
    if (call.ear.heard.some(pastMiddle)) break
  }
  const heard = call.ear.heard
  t.ok(heard.some(pastMiddle), 'some packet starts past the middle of its slot')
  const whole = call.ear.render((heard.at(-1)?.playMs ?? 0) + 30)
  let differs = 0
  for (let from = Math.round((heard[0]?.playMs ?? 0) * 8); from + 40 <= whole.length; from += 40) {
    const window = new Float64Array(40)
    call.ear.renderInto(window, from)
    if (!window.every((v, i) => v === whole[from + i])) differs++
  }
  t.equal(differs, 0, 'every 5 ms window as heard (line-echo.ts reads it so)')
})

t.test('ptime 30: a 20 ms datagram plays as on the real switch: 10 ms of -1, its second half, then what the buffer held', async (t) => {
  const { call, peer } = await start(t)
  await peer.send(ramp(160, 1))
  await until(() => call.ear.heard.length === 1)
  const first = Array.from(call.ear.heard[0]?.samples ?? [])
  t.same(first.slice(0, 80), new Array(80).fill(-1), 'the 0xFF "padding" over our first 10 ms')
  t.same(first.slice(80, 160), Array.from({ length: 80 }, (_, i) => 81 + i), 'our second 10 ms')
  t.same(first.slice(160), new Array(80).fill(0), 'the buffer past our datagram: zeros at first')
  await peer.send(ramp(240, 5000))
  await peer.send(ramp(160, 1))
  await until(() => call.ear.heard.length === 3)
  t.same(Array.from(call.ear.heard[2]?.samples ?? []).slice(160), Array.from({ length: 80 }, (_, i) => 5160 + i), 'then what the last longer datagram left there')
  // Fifty a second against one write every 30 ms: they queue.
  const before = call.ear.heard.length
  await Promise.all(Array.from({ length: 30 }, async () => { await peer.send(ramp(160, 1)) }))
  await until(() => call.ear.heard.length === before + 30)
  const burst = call.ear.heard.slice(before)
  t.equal((burst.at(-1)?.playMs ?? 0) - (burst[0]?.playMs ?? 0), 29 * 30, '600 ms sent take 900 ms to play')
})

t.test('a packet time outside 10-60 ms in steps of 10 is refused', async (t) => {
  for (const ptimeMs of [0, 25, 70]) t.throws(() => new FakeFreeSwitch().placeCall({ port: 1, ptimeMs }), RangeError, `${ptimeMs} ms`)
  await delay(10)
})
