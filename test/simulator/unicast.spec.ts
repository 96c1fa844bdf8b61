import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { FakeFreeSwitch, level, parseWav, type HeardFrame, type PlaceCallOptions } from '../../lib/simulator/index.ts'
import { alawToLinear, linearToAlaw } from '../../lib/simulator/g711.ts'
import { g711Laws, isExact } from '../../lib/media/g711.ts'
import { activeHandles, constantFrame, RawServer, toneWav, UdpPeer } from './helpers.ts'
import { until } from '../helpers/until.ts'

const dir = mkdtempSync(join(tmpdir(), 'sim-unicast-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const shortTone = join(dir, 'short.wav')
writeFileSync(shortTone, toneWav(200))
const longTone = join(dir, 'long.wav')
writeFileSync(longTone, toneWav(3000, 4000))

/** Caller audio where every 20 ms frame holds one constant value, different frame to frame. */
const FRAMES = 200
const patternValue = (k: number): number => ((k * 7919) % 4000) - 2000
const pattern = Buffer.concat(Array.from({ length: FRAMES }, (_, k) => constantFrame(patternValue(k))))
/** What FreeSWITCH sends for a caller sample: the caller's PCMA decoded to L16. */
const viaAlaw = (v: number): number => alawToLinear(linearToAlaw(v))

const unicast = (remotePort: number, extra = ''): string =>
  `sendmsg\ncall-command: unicast\nlocal-ip: 127.0.0.1\nlocal-port: 0\nremote-ip: 127.0.0.1\nremote-port: ${remotePort}\ntransport: udp${extra}`
const execute = (app: string, arg = ''): string => `sendmsg\ncall-command: execute\nexecute-app-name: ${app}\nexecute-app-arg: ${arg}`
const isCng = (d: Buffer): boolean => d.length === 320 && d.every((b) => b === 0xff)
const samplesOf = (d: Buffer): number[] => Array.from({ length: d.length / 2 }, (_, i) => d.readInt16LE(i * 2))

async function start (t: Test, opts: Partial<PlaceCallOptions> = {}) {
  const srv = new RawServer()
  const port = await srv.listen()
  const peer = new UdpPeer()
  const peerPort = await peer.bind()
  const call = new FakeFreeSwitch({ baseDir: dir }).placeCall({ port, ...opts })
  await srv.connected
  await srv.command('connect')
  t.teardown(async () => { call.hangup(); await srv.close(); await call.ended; await peer.close() })
  return { srv, call, peer, peerPort }
}

t.test('the caller streams as 0xFF fill, then L16 20 ms frames in order at 50 a second', async (t) => {
  const { srv, call, peer, peerPort } = await start(t, { unicastCngFrames: 4, caller: { audio: [{ atMs: 0, wav: pattern }] } })
  t.equal((await srv.command(unicast(peerPort)))?.headers['Reply-Text'], '+OK')
  await peer.waitFor(4 + 50)
  await delay(1000)
  const got = peer.received
  t.ok(got.slice(0, 4).every((d) => isCng(d.data)), 'the first frames are 320 bytes of 0xFF')
  t.notOk(isCng(got[4]?.data ?? Buffer.alloc(0)), 'then the caller')
  t.ok(got.every((d) => d.data.length === 320), 'every datagram is 20 ms of 8 kHz L16')
  t.equal(new Set(got.map((d) => d.from.port)).size, 1, 'always from the one bound port')
  t.equal(call.unicast?.boundPort, peer.fsPort)
  // Every frame is one caller frame, whole and in order: one constant value, the next k each time.
  const values = got.slice(4).map((d) => samplesOf(d.data))
  t.ok(values.every((v) => v.every((s) => s === v[0])), 'frames are aligned to the caller\'s 20 ms frames')
  // As on a real FreeSWITCH (docs/simulator.md "unicast L16 from G.711 calls": 16,830 datagrams
  // of PCMA and PCMU calls): every sample is one of the call's law's values, which is what lets
  // the agent hold the caller's audio at a byte per sample (lib/media/held-pcm.ts).
  const alaw = g711Laws().find((l) => l.name === 'alaw')
  t.ok(alaw !== undefined && got.slice(4).every((d) => isExact(alaw, new Int16Array(Uint8Array.from(d.data).buffer))), 'every caller sample is an A-law value')
  const firstK = Array.from({ length: FRAMES }, (_, k) => k).find((k) =>
    values.slice(0, 5).every((v, i) => v[0] === viaAlaw(patternValue(k + i))))
  if (firstK === undefined) throw new Error('caller frames not found in the stream')
  const skipped = values.findIndex((v, i) => v[0] !== viaAlaw(patternValue(firstK + i)))
  t.equal(skipped, -1, 'no caller frame skipped or repeated')
  // Paced by the call clock: caller frame k leaves at (k + 1) x 20 ms, never sooner. A loaded
  // machine can only make frames late (they catch up in a burst), so no rate is asserted here.
  const t0 = Date.now() - call.nowMs
  const early = got.slice(4).filter((d, i) => d.at < t0 + (firstK + i + 1) * 20)
  t.equal(early.length, 0, 'no frame sent ahead of the call clock (50 a second at most)')
  t.ok(call.result.events.some((e) => e.name === 'CHANNEL_PROGRESS_MEDIA'), 'park pre-answered the channel for unicast')
  t.notOk(call.answered)
  t.notOk(call.result.events.some((e) => e.name === 'CHANNEL_EXECUTE'), 'unicast is not an application')
})

// On a real FreeSWITCH 1.11 (docs/simulator.md "Checked on a real FreeSWITCH") every frame sent
// before we stopped reached the caller, one a write tick (unicast_thread_run, switch_ivr.c: one
// datagram read per write): a burst of 25 still played for ~500 ms after the stop.
t.test('our datagrams queue and play at 20 ms each: depth, time to first audio, a burst delays barge-in', async (t) => {
  const { srv, call, peer, peerPort } = await start(t)
  await srv.command(unicast(peerPort))
  await peer.waitFor(1)
  const sentAt = call.nowMs
  // All handed to the kernel at once: sent one by one, a stall mid-burst would let it drain.
  await Promise.all(Array.from({ length: 25 }, async (_, i) => { await peer.send(constantFrame(1000 + i)) }))
  await delay(60)
  // The clock moves between two reads, so the depth is read between two clock readings.
  const before = call.nowMs
  const depth = call.unicastQueueDepth
  const now = call.nowMs
  const frames = call.ear.heard.filter((f) => f.source === 'unicast')
  t.equal(frames.length, 25)
  // However long the sending took (a loaded machine), whatever has not played yet is queued.
  const unplayedAt = (ms: number): number => frames.filter((f) => f.playMs + 20 > ms).length
  t.ok(unplayedAt(now) > 0, 'the burst outlasts the time it took to send it')
  t.ok(depth <= unplayedAt(before) && depth >= unplayedAt(now),
    `the frames not yet played are queued (${depth}; ${unplayedAt(before)} to ${unplayedAt(now)})`)
  t.same(frames.map((f) => f.samples[0]), Array.from({ length: 25 }, (_, i) => 1000 + i), 'played in order, unchanged')
  t.ok(frames.slice(1).every((f, i) => f.playMs - (frames[i]?.playMs ?? 0) === 20), 'back to back, 20 ms apart')
  const first = call.ear.firstHeard(0)
  t.ok(first !== undefined && first.playMs >= sentAt && first.playMs <= now, 'time to first audio is measurable: after the send, before now')
  // The caller "barges in" right after the burst: they still hear it until it drains.
  const end = call.ear.lastHeardEndMs()
  t.equal(end, (frames[0]?.playMs ?? 0) + 500)
  await delay(600)
  t.equal(call.unicastQueueDepth, 0, 'drained')
})

// On a real FreeSWITCH 1.11 a tick with no datagram of ours wrote nothing toward the caller (no
// repeated frame, no comfort noise) for 1 to 50 ticks, 3 s and 40 s alike; the next packet
// carried the marker bit and a timestamp advanced by the idle ticks (switch_rtp.c
// get_next_write_ts), which the simulator does not model.
t.test('when we send nothing the caller gets no RTP: gaps', async (t) => {
  const { srv, call, peer, peerPort } = await start(t)
  await srv.command(unicast(peerPort))
  await peer.waitFor(1)
  for (let i = 0; i < 5; i++) await peer.send(constantFrame(500))
  await delay(300)
  const resumedAt = call.nowMs
  for (let i = 0; i < 5; i++) await peer.send(constantFrame(500))
  await delay(50)
  const heard = call.ear.heard
  const from = heard[0]?.playMs ?? 0
  const to = (heard.at(-1)?.playMs ?? 0) + 20
  const gaps = call.ear.gaps(from, to)
  t.equal(gaps.length, 1, 'one silence without RTP')
  // Bounded by what we did, not by how fast the machine is: from the end of the first five
  // frames until the next five, which play once sent, not before.
  const gap = gaps[0]
  t.equal(gap?.startMs, (heard[4]?.playMs ?? 0) + 20, 'the silence starts when the first frames end')
  t.equal(gap?.endMs, heard[5]?.playMs, 'and lasts until the next frame')
  t.ok((heard[5]?.playMs ?? 0) >= resumedAt, `which played once we sent it again (${gap === undefined ? '' : gap.endMs - gap.startMs} ms of silence)`)
})

t.test('playback ends unicast for good; a new unicast command does not bring it back', async (t) => {
  const { srv, call, peer, peerPort } = await start(t, { caller: { audio: [{ atMs: 0, wav: toneWav(5000) }] } })
  await srv.command(unicast(peerPort))
  await peer.waitFor(10)
  await peer.send(constantFrame(700))
  await srv.command(execute('playback', shortTone))
  await delay(400)
  const first = call.result.unicast[0]
  t.equal(first?.closedBy, 'reset', 'switch_core_session_reset() deactivated it')
  const countAfterPlayback = peer.received.length
  await peer.send(constantFrame(900), first?.boundPort).catch(() => {})
  t.equal((await srv.command(unicast(peerPort)))?.headers['Reply-Text'], '+OK')
  await delay(300)
  const second = call.result.unicast[1]
  t.ok(second?.boundPort !== undefined, 'the new socket was bound')
  t.equal(second?.closedBy, 'send-failed', 'the park loop still holds the dead connection: its sendto fails')
  t.equal(second?.framesSent, 0)
  t.equal(peer.received.length, countAfterPlayback, 'no caller audio since the playback')
  const sources = call.ear.heard.map((f) => `${f.source}:${f.samples[0] === 900 ? 'late' : ''}`)
  t.ok(sources.includes('playback:'), 'the file was heard')
  t.notOk(sources.includes('unicast:late'), 'our datagrams after the playback are not heard')
  t.ok(call.ear.heard.some((f) => f.source === 'unicast' && f.samples[0] === 700), 'before it, they were')
})

t.test('record ends unicast too', async (t) => {
  const path = join(dir, 'msg.wav')
  const { srv, call, peer, peerPort } = await start(t, { caller: { dtmf: [{ atMs: 600, digit: '*' }] } })
  await srv.command(unicast(peerPort))
  await peer.waitFor(5)
  await srv.command(execute('record', `${path} 5`))
  await delay(800)
  t.equal(call.result.recordings[0]?.reason, 'dtmf')
  t.equal(call.result.unicast[0]?.closedBy, 'reset')
})

t.test('during sleep the caller stops streaming to us, our frames still play, and unicast survives', async (t) => {
  const { srv, call, peer, peerPort } = await start(t)
  await srv.command(unicast(peerPort))
  await peer.waitFor(5)
  await srv.command(execute('sleep', '600'))
  // From when sleep runs (not from when we asked), after the frames already on their way.
  while (!call.result.apps.some((a) => a.name === 'sleep')) await delay(10)
  await delay(50)
  const during = peer.received.length
  await peer.send(constantFrame(1234))
  await delay(200)
  t.equal(peer.received.length, during, 'no caller frames while the park loop is not reading')
  t.ok(call.ear.heard.some((f) => f.samples[0] === 1234), 'the unicast thread still writes our frames')
  await peer.waitFor(during + 4)
  t.ok(peer.received.length > during + 3, 'streaming resumes after the sleep')
  t.equal(call.unicast?.closedBy, undefined)
})

t.test('displace_session mixes a file into what we send without breaking unicast', async (t) => {
  const { srv, call, peer, peerPort } = await start(t)
  await srv.command(unicast(peerPort))
  await peer.waitFor(3)
  await srv.command(execute('displace_session', `${longTone} m`))
  await delay(100)
  const before = peer.received.length
  for (let i = 0; i < 10; i++) await peer.send(constantFrame(0))
  const unicastHeard = (): HeardFrame[] => call.ear.heard.filter((f) => f.source === 'unicast')
  // The switch writes one of our frames per 20 ms tick: wait for all ten, however slow the machine.
  await until(() => unicastHeard().length >= 10 && peer.received.length > before + 5)
  t.ok(peer.received.length > before + 5, 'the caller still streams to us')
  t.equal(call.unicast?.closedBy, undefined, 'unicast is still active')
  const ours = unicastHeard()
  t.equal(ours.length, 10)
  t.ok(ours.every((f) => level(f.samples) > 1000), 'our silent frames carry the file')
  t.equal(call.result.apps.find((a) => a.name === 'displace_session')?.response, '_none_')
})

t.test('flags native: A-law both ways, the 0xFF fill still 320 bytes', async (t) => {
  const { srv, call, peer, peerPort } = await start(t, { unicastCngFrames: 2, caller: { audio: [{ atMs: 0, wav: pattern }] } })
  await srv.command(unicast(peerPort, '\nflags: native'))
  await peer.waitFor(6)
  t.ok(isCng(peer.received[0]?.data ?? Buffer.alloc(0)))
  t.same(peer.received.slice(2, 6).map((d) => d.data.length), [160, 160, 160, 160], 'PCMA payload')
  const payload = Buffer.alloc(160, linearToAlaw(3000))
  await peer.send(payload)
  await delay(50)
  const heard = call.ear.heard.find((f) => f.source === 'unicast')
  t.equal(heard?.samples[0], alawToLinear(linearToAlaw(3000)), 'our A-law is decoded for the caller')
})

t.test('a zero-length datagram ends the return path; the caller keeps streaming', async (t) => {
  const { srv, call, peer, peerPort } = await start(t)
  await srv.command(unicast(peerPort))
  await peer.waitFor(2)
  await peer.send(Buffer.alloc(0))
  await delay(30)
  await peer.send(constantFrame(100))
  const count = peer.received.length
  await delay(200)
  t.ok(call.unicast?.threadStopped)
  t.equal(call.ear.heard.length, 0, 'nothing of ours is heard')
  t.ok(peer.received.length > count + 5, 'caller frames still arrive')
})

t.test('bad transport or a busy port: nothing is bound and nothing flows', async (t) => {
  const { srv, call, peer, peerPort } = await start(t)
  await srv.command(unicast(peerPort).replace('transport: udp', 'transport: sctp'))
  // mod_event_socket.c answers sendmsg +OK once it is queued (async) or parsed, whatever
  // switch_ivr_activate_unicast returns: a busy port is not reported to us.
  t.equal((await srv.command(unicast(peerPort).replace('local-port: 0', `local-port: ${peerPort}`)))?.headers['Reply-Text'], '+OK', 'a busy port still gets +OK')
  await delay(200)
  t.equal(call.result.unicast[0]?.failed, 'Invalid transport sctp')
  t.match(call.result.unicast[1]?.failed, /^Failure creating unicast connection/)
  t.equal(call.unicast, undefined)
  t.equal(peer.received.length, 0)
  // A failed activation leaves nothing behind (switch_ivr_activate_unicast sets CF_UNICAST and the
  // "unicast" private only once bound), so a later one starts the stream: what our agent's second
  // ask relies on (lib/call/stream/unicast-start.ts). "tcp" is accepted, and the socket is still UDP.
  await srv.command(unicast(peerPort).replace('transport: udp', 'transport: tcp'))
  await peer.waitFor(3)
  t.equal(call.unicast?.params.transport, 'tcp')
})

t.test('a second unicast while the first runs binds, but the park loop keeps sending from the first', async (t) => {
  // switch_ivr_park takes the "unicast" private into its local `conninfo` once, when CF_UNICAST is
  // first seen, and sends every read frame through it; switch_ivr_activate_unicast does not
  // deactivate a running connection. So a second activation binds a socket nothing sends from:
  // an agent that asked again (lib/call/stream/unicast-start.ts) cannot rescue a first
  // activation that was only late; its watch then ends the call instead of leaving dead air.
  const { srv, call, peer, peerPort } = await start(t)
  await srv.command(unicast(peerPort))
  await peer.waitFor(5)
  const firstPort = peer.fsPort
  const second = new UdpPeer()
  const secondPort = await second.bind()
  t.teardown(async () => { await second.close() })
  t.equal((await srv.command(unicast(secondPort)))?.headers['Reply-Text'], '+OK')
  await until(() => call.result.unicast.length === 2)
  const before = peer.received.length
  await delay(300)
  t.notOk(call.result.unicast[1]?.failed, 'the second bound its port')
  t.ok(peer.received.length - before >= 10, 'the first keeps streaming')
  t.ok(peer.received.slice(before).every((d) => d.from.port === firstPort), 'from the first port')
  t.equal(second.received.length, 0, 'nothing from the second')
})

t.test('hangup closes the unicast socket; the stereo WAV has the caller left and what they heard right', async (t) => {
  const { srv, call, peer, peerPort } = await start(t, { caller: { audio: [{ atMs: 0, wav: toneWav(400, 6000) }] } })
  await srv.command(unicast(peerPort))
  await peer.waitFor(25)
  for (let i = 0; i < 10; i++) await peer.send(constantFrame(3000))
  await delay(250)
  call.hangup()
  const result = await call.ended
  t.equal(result.unicast[0]?.closedBy, 'unpark')
  const wav = parseWav(call.conversationWav())
  t.equal(wav.channels, 2)
  t.equal(wav.sampleRate, 8000)
  const frame = (ch: 0 | 1, fromMs: number, toMs: number): Int16Array => {
    const out: number[] = []
    for (let i = Math.round(fromMs * 8); i < Math.round(toMs * 8); i++) out.push(wav.pcm.readInt16LE(i * 4 + ch * 2))
    return Int16Array.from(out)
  }
  t.ok(level(frame(0, 0, 400)) > 3000, 'caller tone on the left')
  t.ok(level(frame(0, 450, 600)) < 1, 'then silence on the left')
  const playMs = result.heard[0]?.playMs ?? 0
  t.ok(level(frame(1, playMs, playMs + 200)) === 3000, 'our frames on the right where they played')
  t.ok(level(frame(1, 0, Math.max(0, playMs - 1))) === 0, 'nothing on the right before')
  const udp = process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length
  t.equal(udp, 1, 'only the peer\'s socket is left')
})

t.test('no sockets or timers left behind', async (t) => {
  await delay(100)
  t.same(activeHandles(), [])
})
