import t, { type Test } from 'tap'
import { CallerAudio } from '../../lib/simulator/caller.ts'
import { FakeFreeSwitch, type PlaceCallOptions } from '../../lib/simulator/index.ts'
import { alawToLinear, linearToAlaw } from '../../lib/simulator/g711.ts'
import { constantFrame, RawServer, UdpPeer } from './helpers.ts'

// FreeSWITCH reads one caller packet per RTP timer tick (switch_rtp.c rtp_common_read, no jitter
// buffer, no rtp_autoflush): packets that come late are all read, behind the CNG frames the wait
// cost, and the caller's audio stays that far behind the wire for the rest of the call. A real
// FreeSWITCH 1.11 did this in the lab (docs/benchmarks.md, "On a real FreeSWITCH: turn-taking").

/**
 * Caller audio where every 20 ms frame holds one constant value, each frame its own: A-law code k's
 * value, which comes through the channel's PCMA unchanged.
 */
const FRAMES = 150
const patternValue = (k: number): number => alawToLinear(k)
const pattern = Buffer.concat(Array.from({ length: FRAMES }, (_, k) => constantFrame(patternValue(k))))
const viaAlaw = (v: number): number => alawToLinear(linearToAlaw(v))

const ticks = (audio: CallerAudio, from: number, to: number): Array<number | undefined> =>
  Array.from({ length: to - from }, (_, i) => audio.callerFrame(from + i))

t.test('no lateness, no loss: tick k reads the caller\'s frame k', async (t) => {
  const audio = new CallerAudio()
  t.same(ticks(audio, 0, 5), [0, 1, 2, 3, 4])
  t.equal(audio.backlogAt(1000), 0)
})

t.test('packets 50 ms late: three CNG ticks, then every frame three ticks behind, none lost', async (t) => {
  const audio = new CallerAudio()
  audio.add(0, pattern)
  audio.addLate(1000, 50)
  t.same(ticks(audio, 48, 56), [48, 49, undefined, undefined, undefined, 50, 51, 52])
  t.ok([50, 51, 52].every((k) => audio.isGap(k)), 'the ticks that found no packet are CNG')
  t.equal(audio.callerFrame(140), 137, 'still three behind long after')
  t.equal(audio.backlogAt(140), 3)
  // What the tick reads is the caller's frame it maps to.
  t.equal(audio.frame(53)[0], patternValue(50))
  t.ok(audio.frame(51).every((v) => v === 0), 'a CNG tick reads silence')
})

t.test('the queue absorbs lateness up to its length; more lateness grows it', async (t) => {
  const audio = new CallerAudio()
  audio.addLate(1000, 50) // backlog 3
  audio.addLate(3000, 40) // 2 frames late: the queue of 3 hides it
  t.same(ticks(audio, 150, 158).filter((x) => x === undefined), [], 'no CNG tick')
  t.equal(audio.backlogAt(200), 3)
  audio.addLate(5000, 100) // 5 frames late: two more CNG ticks
  t.same(ticks(audio, 252, 257), [249, undefined, undefined, 250, 251])
  t.equal(audio.backlogAt(300), 5)
})

t.test('lost packets drain the queue: shorter than the backlog, no CNG; longer, CNG and no backlog', async (t) => {
  const audio = new CallerAudio()
  audio.addLate(1000, 100) // backlog 5
  audio.addGap(3000, 40) // frames 150, 151 never come
  t.same(ticks(audio, 153, 157), [148, 149, 152, 153], 'read straight on from the queue, two ticks sooner')
  t.equal(audio.backlogAt(200), 3)
  audio.addGap(5000, 100) // frames 250-254: longer than the queue of 3
  t.same(ticks(audio, 252, 257), [249, undefined, undefined, 255, 256])
  t.equal(audio.backlogAt(300), 0)
  t.equal(audio.callerFrame(300), 300)
})

t.test('a gap alone is what it was: CNG for its frames, nothing shifted', async (t) => {
  const audio = new CallerAudio()
  audio.addGap(1000, 60)
  t.same(ticks(audio, 49, 55), [49, undefined, undefined, undefined, 53, 54])
  t.equal(audio.backlogAt(100), 0)
})

t.test('overlapping and nested gaps lose their union', async (t) => {
  const audio = new CallerAudio()
  audio.addGap(200, 400) // frames 10-29
  audio.addGap(240, 40) // 12-13, inside
  audio.addGap(500, 200) // 25-34, overlapping
  t.same(ticks(audio, 9, 36), [9, ...Array<undefined>(25).fill(undefined), 35])
})

t.test('late frames reach us over unicast: 0xFF fill, then the caller\'s frames in order, none lost', async (t: Test) => {
  const srv = new RawServer()
  const port = await srv.listen()
  const peer = new UdpPeer()
  const peerPort = await peer.bind()
  const opts: Partial<PlaceCallOptions> = { caller: { audio: [{ atMs: 0, wav: pattern }], rtpLate: [{ atMs: 1400, lateMs: 50 }] } }
  const call = new FakeFreeSwitch().placeCall({ port, ...opts })
  t.teardown(async () => { call.hangup(); await srv.close(); await call.ended; await peer.close() })
  await srv.connected
  await srv.command('connect')
  await srv.command(`sendmsg\ncall-command: unicast\nlocal-ip: 127.0.0.1\nlocal-port: 0\nremote-ip: 127.0.0.1\nremote-port: ${peerPort}\ntransport: udp`)
  // Until the caller's frame 100 (2 s) has come, whenever that is on a loaded machine.
  const isCng = (d: Buffer): boolean => d.every((b) => b === 0xff)
  const value = (d: Buffer): number => d.readInt16LE(0)
  const has = (k: number): boolean => peer.received.some((d) => !isCng(d.data) && value(d.data) === viaAlaw(patternValue(k)))
  while (!has(100)) await peer.waitFor(peer.received.length + 1, 10_000)
  const got = peer.received.map((d) => d.data)
  const at69 = got.findIndex((d) => !isCng(d) && value(d) === viaAlaw(patternValue(69)))
  t.ok(at69 >= 0, 'the caller\'s frame 69 came')
  t.ok(got.slice(at69 + 1, at69 + 4).every(isCng), 'then three 0xFF frames: the ticks the late packets were not there')
  const after = got.slice(at69 + 4, at69 + 4 + 30).map(value)
  t.same(after, Array.from({ length: 30 }, (_, i) => viaAlaw(patternValue(70 + i))), 'then frames 70, 71, ... in order: nothing lost')
})
