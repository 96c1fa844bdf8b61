import t, { type Test } from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { buildWav, FakeFreeSwitch, parseWav, type PlaceCallOptions } from '../../lib/simulator/index.ts'
import { CallerAudio } from '../../lib/simulator/caller.ts'
import { CallerEar } from '../../lib/simulator/ear.ts'
import { alawToLinear, linearToAlaw } from '../../lib/simulator/g711.ts'
import { activeHandles, constantFrame, RawServer, UdpPeer } from './helpers.ts'

/**
 * The simulated caller's line echoes what the caller hears (caller.echo): the echo must come
 * back in their inbound audio at the set delay and level, on the wire in stream mode (unicast)
 * and after a file FreeSWITCH played (files mode).
 */

const dir = mkdtempSync(join(tmpdir(), 'sim-echo-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

const unicast = (remotePort: number): string =>
  `sendmsg\ncall-command: unicast\nlocal-ip: 127.0.0.1\nlocal-port: 0\nremote-ip: 127.0.0.1\nremote-port: ${remotePort}\ntransport: udp`
// event-lock: the record waits for the playback instead of running inside it.
const execute = (app: string, arg = ''): string => `sendmsg\ncall-command: execute\nexecute-app-name: ${app}\nexecute-app-arg: ${arg}\nevent-lock: true`
const viaAlaw = (v: number): number => alawToLinear(linearToAlaw(v))
const isCng = (d: Buffer): boolean => d.every((b) => b === 0xff)
const samplesOf = (d: Buffer): number[] => Array.from({ length: d.length / 2 }, (_, i) => d.readInt16LE(i * 2))
const rms = (a: ArrayLike<number>, from: number, to: number): number => {
  let s = 0
  for (let i = from; i < to; i++) s += (a[i] as number) ** 2
  return Math.sqrt(s / Math.max(1, to - from))
}
const db = (ratio: number): number => 20 * Math.log10(ratio)

/**
 * An 8 kHz WAV: `noiseMs` of seeded noise (its correlation has one peak, at the delay), then
 * `toneMs` of a 1 kHz tone (the frequency the echo's attenuation is set at).
 */
function noiseThenTone (noiseMs: number, toneMs: number, amplitude: number): Buffer {
  const noise = Math.round(noiseMs * 8)
  const n = noise + Math.round(toneMs * 8)
  const pcm = Buffer.alloc(n * 2)
  let seed = 12345
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    const v = i < noise ? amplitude * ((seed / 2 ** 32) * 2 - 1) : amplitude * Math.sin(2 * Math.PI * 1000 * i / 8000)
    pcm.writeInt16LE(Math.round(v), i * 2)
  }
  return buildWav(pcm, 8000, 1)
}

/** Left (caller's audio, what their line sends) and right (what they heard) of conversationWav(). */
function channels (wav: Buffer): { left: Int16Array, right: Int16Array } {
  const pcm = wav.subarray(44)
  const n = pcm.length / 4
  const left = new Int16Array(n)
  const right = new Int16Array(n)
  for (let i = 0; i < n; i++) { left[i] = pcm.readInt16LE(i * 4); right[i] = pcm.readInt16LE(i * 4 + 2) }
  return { left, right }
}

const firstNonZero = (a: Int16Array): number => a.findIndex((v) => v !== 0)

async function until (cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await delay(10)
  }
}

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

t.test('stream mode: our datagrams come back in the caller\'s RTP at the set delay and level', async (t) => {
  const delayMs = 100
  const attenuationDb = 12
  const { srv, call, peer, peerPort } = await start(t, { caller: { echo: { delayMs, attenuationDb, filter: 'none' } } })
  await srv.command(unicast(peerPort))
  await peer.waitFor(3)
  const values = Array.from({ length: 10 }, (_, j) => 4000 + 800 * j)
  for (const v of values) await peer.send(constantFrame(v))
  await until(() => call.nowMs > (call.ear.heard.at(-1)?.playMs ?? Infinity) + delayMs + 300)
  const heardAt = Math.round((call.ear.heard[0]?.playMs ?? 0) * 8)
  const { left, right } = channels(call.conversationWav())
  t.equal(firstNonZero(right), heardAt, 'the caller heard our first frame when the ear says')
  t.equal(firstNonZero(left) - firstNonZero(right), delayMs * 8, 'the echo starts exactly delayMs later')
  const gain = 10 ** (-attenuationDb / 20)
  const echoed = values.map((_, j) => left[heardAt + delayMs * 8 + 160 * j + 80] as number)
  t.same(echoed, values.map((v) => Math.round(v * gain)), 'each frame comes back attenuated by attenuationDb')
  t.equal(left[heardAt + delayMs * 8 + 160 * values.length], 0, 'and nothing after the last one')

  // On the wire: the caller's datagrams are those frames (through PCMA), echo included.
  const wire = peer.received.map((d) => d.data).filter((d) => !isCng(d)).map(samplesOf)
  const echoFrame = Math.floor((heardAt + delayMs * 8) / 160)
  const expected = (k: number): number[] => Array.from(left.subarray(k * 160, k * 160 + 160), viaAlaw)
  const at = wire.findIndex((_, m) => Array.from({ length: 11 }, (_, i) => i).every((i) =>
    JSON.stringify(wire[m + i]) === JSON.stringify(expected(echoFrame + i))))
  t.ok(at >= 0, 'the echo frames are on the wire, sample for sample')
  const loudest = Math.max(...wire.flat().map(Math.abs))
  t.ok(Math.abs(db(loudest / (values.at(-1) as number)) + attenuationDb) < 0.5, `peak level on the wire ${db(loudest / (values.at(-1) as number)).toFixed(2)} dB`)
})

t.test('files mode: a played file comes back at the set delay and level, into a recording that follows it', async (t) => {
  const delayMs = 300
  const attenuationDb = 10
  const file = join(dir, 'tone1k.wav')
  writeFileSync(file, noiseThenTone(300, 600, 8000))
  const rec = join(dir, 'after.wav')
  const { srv, call } = await start(t, { answeredBeforeSocket: true, caller: { echo: { delayMs, attenuationDb } } })
  await srv.command(execute('playback', file))
  await srv.command(execute('record', `${rec} 5`))
  await until(() => call.result.recordings.length > 0 && call.nowMs > (call.result.recordings[0]?.startMs ?? Infinity) + 900)
  call.hangup()
  await call.ended
  const played = call.result.played[0]
  t.equal(played?.status, 'done')
  const playAt = Math.round((call.ear.heard.find((f) => f.source === 'playback')?.playMs ?? 0) * 8)
  const { left, right } = channels(call.conversationWav())
  // Cross-correlation of what they sent with what they heard peaks at the set delay.
  let best = -1
  let bestLag = 0
  for (let lag = 0; lag <= 400 * 8; lag += 1) {
    let acc = 0
    for (let i = playAt; i < playAt + 2400; i++) acc += (right[i] as number) * (left[i + lag] as number)
    if (acc > best) { best = acc; bestLag = lag }
  }
  t.equal(bestLag, delayMs * 8, `the noise correlates at the set delay (${bestLag / 8} ms)`)
  const onset = firstNonZero(left)
  t.ok(Math.abs(onset - (playAt + delayMs * 8)) <= 20, `the echo starts at the delay (${(onset - playAt) / 8} ms; the filter's first taps are tiny)`)
  const tone = playAt + 2400
  const level = db(rms(left, tone + delayMs * 8 + 400, tone + delayMs * 8 + 4000) / rms(right, tone + 400, tone + 4000))
  t.ok(Math.abs(level + attenuationDb) < 0.5, `echo level ${level.toFixed(2)} dB at 1 kHz`)
  // The recording after the playback starts inside the echo's tail: its first 100 ms hold the tone.
  const recorded = parseWav(readFileSync(rec))
  const pcm = Int16Array.from({ length: recorded.pcm.length / 2 }, (_, i) => recorded.pcm.readInt16LE(i * 2))
  const head = db(rms(pcm, 0, 800) / (8000 / Math.SQRT2))
  t.ok(Math.abs(head + attenuationDb) < 1.5, `the recording begins with the echo (${head.toFixed(1)} dB)`)
  t.ok(rms(pcm, 400 * 8, 800 * 8) < 1, 'then silence: the echo ends delayMs after the file')
})

t.test('line noise, the hybrid path and RTP gaps', async (t) => {
  const audio = new CallerAudio()
  const ear = new CallerEar()
  audio.echo({ delayMs: 40, attenuationDb: 6, noiseDb: -50, seed: 3 }, () => ear)
  audio.addGap(1000, 100)
  const quiet = audio.frame(10)
  t.ok(Math.abs(db(rms(quiet, 0, 160) / 32768) + 50) < 2, `noise at the set level (${db(rms(quiet, 0, 160) / 32768).toFixed(1)} dBFS)`)
  t.same(audio.frame(10), quiet, 'the same frame read twice is the same frame')
  t.ok(audio.frame(52).every((v) => v === 0), 'no RTP in a gap: neither echo nor noise')
  // A 250 Hz tone through the hybrid's band-pass comes back weaker than 1 kHz does.
  for (let k = 0; k < 50; k++) ear.writeNow(Int16Array.from({ length: 160 }, (_, i) => 8000 * Math.sin(2 * Math.PI * 250 * (k * 160 + i) / 8000)), k * 20)
  const low = audio.frame(30)
  t.ok(db(rms(low, 0, 160) / (8000 / Math.SQRT2)) < -6 - 3, 'low frequencies lose more than the set attenuation')
})

t.test('settings no line has are refused before anything opens', async (t) => {
  const before = activeHandles().length
  const sim = new FakeFreeSwitch({ baseDir: dir })
  t.throws(() => sim.placeCall({ port: 1, caller: { echo: { delayMs: 5, attenuationDb: 10 } } }), /delayMs must be 20-2000/)
  t.throws(() => sim.placeCall({ port: 1, caller: { echo: { delayMs: 100, attenuationDb: -3 } } }), /attenuationDb must be >= 0/)
  t.equal(sim.activeCalls, 0)
  t.equal(activeHandles().length, before, 'no socket or timer left behind')
})
