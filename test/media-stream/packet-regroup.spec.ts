import t from 'tap'
import { PacketRegrouper } from '../../lib/media/stream/packet-regroup.ts'
import { captureLogs } from '../helpers/logs.ts'

/** 20 ms frames at 8 kHz whose samples count up from `from` (never 0: silence is told apart). */
function frame (from: number): Buffer {
  const b = Buffer.alloc(320)
  for (let i = 0; i < 160; i++) b.writeInt16LE(from + i, i * 2)
  return b
}
const SILENCE = Buffer.alloc(320)

function regrouper (bytes: number): { r: PacketRegrouper, sent: Array<{ at: number, firstDue: number, samples: number[] }>, at: { now: number } } {
  const sent: Array<{ at: number, firstDue: number, samples: number[] }> = []
  const at = { now: 0 }
  const r = new PacketRegrouper(bytes, 8000, (p, firstDue) => {
    sent.push({ at: at.now, firstDue, samples: Array.from(new Int16Array(p.buffer, p.byteOffset, p.length / 2)) })
  })
  return { r, sent, at }
}

t.test('ptime 30: two whole packets every three frames, as soon as each is whole, the audio in order', async (t) => {
  const { r, sent, at } = regrouper(480)
  for (let k = 0; k < 9; k++) {
    at.now = k * 20
    r.push(frame(1 + k * 160), false, false, at.now)
  }
  t.same(sent.map((p) => p.at), [20, 40, 80, 100, 140, 160], 'sent 20 and 40 ms apart: one per 30 ms on average')
  t.same(sent.map((p) => p.firstDue), [0, 30, 60, 90, 120, 150], 'each stamped with its first sample\'s due time: 30 ms apart')
  t.ok(sent.every((p) => p.samples.length === 240))
  t.same(sent.flatMap((p) => p.samples), Array.from({ length: 9 * 160 }, (_, i) => 1 + i), 'every sample once, in order')
  t.equal(r.pendingMs, 0)
  t.equal(r.packetsSent, 6)
})

t.test('a reply\'s end is sent padded; the idle silence after it pays the padding back', async (t) => {
  const { r, sent, at } = regrouper(480)
  // 4 frames of audio: 80 ms = 2 packets and 20 ms over.
  for (let k = 0; k < 4; k++) {
    at.now = k * 20
    r.push(frame(1 + k * 160), false, k === 3, at.now)
  }
  t.equal(sent.length, 3, 'the last 20 ms did not wait')
  t.same(sent[2]?.samples.slice(0, 160), Array.from({ length: 160 }, (_, i) => 481 + i))
  t.ok(sent[2]?.samples.slice(160).every((x) => x === 0), 'padded with 10 ms of silence')
  // That silence went out ahead of time: the idle silence after it is 10 ms shorter, so after 34
  // frames (680 ms) exactly 680 ms were sent or wait for the rest of their packet.
  for (let k = 4; k < 34; k++) {
    at.now = k * 20
    r.push(SILENCE, true, false, at.now)
  }
  t.equal(sent.reduce((n, p) => n + p.samples.length, 0) + r.pendingMs * 8, 34 * 160, 'no drift ahead of the clock')
})

t.test('after sending nothing for a while: silence left over is dropped, the next reply starts a packet', async (t) => {
  const { r, sent, at } = regrouper(480)
  r.push(SILENCE, true, false, 0)
  t.equal(sent.length, 0)
  t.equal(r.pendingMs, 20)
  at.now = 1000
  r.push(frame(1), false, false, at.now)
  at.now = 1020
  r.push(frame(161), false, false, at.now)
  t.same(sent[0]?.samples.slice(0, 3), [1, 2, 3], 'the reply first, not the silence of a second ago')
})

t.test('audio waiting when sending stops is kept; a barge-in drops it', async (t) => {
  const { r, sent, at } = regrouper(480)
  r.push(frame(1), false, false, 0)
  at.now = 1000
  r.push(frame(161), false, false, at.now)
  t.same(sent[0]?.samples.slice(0, 2), [1, 2], 'a pause in the middle of a reply (a slow provider) loses nothing')
  t.equal(r.pendingMs, 10, 'its last 10 ms wait for the rest of their packet')
  r.clear()
  t.equal(r.pendingMs, 0)
  at.now = 1040
  r.push(SILENCE, true, false, at.now)
  r.push(SILENCE, true, false, at.now)
  t.equal(sent.length, 2)
  t.ok(sent[1]?.samples.every((x) => x === 0), 'nothing of the cleared reply after the barge-in')
})

t.test('ptime 10: each frame goes as two packets at once; ptime 40: one packet every other frame', async (t) => {
  const ten = regrouper(160)
  ten.r.push(frame(1), false, false, 0)
  t.same(ten.sent.map((p) => [p.samples.length, p.samples[0]]), [[80, 1], [80, 81]])
  const forty = regrouper(640)
  for (let k = 0; k < 4; k++) {
    forty.at.now = k * 20
    forty.r.push(frame(1 + k * 160), false, false, forty.at.now)
  }
  t.same(forty.sent.map((p) => [p.at, p.samples.length, p.samples[0]]), [[20, 320, 1], [60, 320, 321]])
})

t.test('takeBack: the frames held packets (and the one being filled) carry, from the frame the oldest began in', async (t) => {
  const { r, sent } = regrouper(480)
  for (let k = 0; k < 7; k++) r.push(frame(1 + k * 160), false, false, k * 20)
  // Packets 0-3 sent (frames 0-5), frame 6 waiting: packet 3 began half-way into frame 4.
  t.equal(sent.length, 4)
  t.equal(r.takeBack(0), 0, 'nothing taken back: nothing to put back, the frame waiting stays')
  t.equal(r.pendingMs, 20)
  t.equal(r.takeBack(1), 3, 'packet 3 and the frame waiting: frames 4, 5 and 6')
  t.equal(r.pendingMs, 0, 'the frame waiting is dropped: it goes back to the queue')
  // The frames go again: the packets start afresh from the frame put back.
  for (let k = 4; k < 7; k++) r.push(frame(1 + k * 160), false, false, 200 + k * 20)
  t.same(sent[4]?.samples.slice(0, 3), [641, 642, 643], 'the next packet starts with the first frame put back')
  t.equal(r.takeBack(2), 3, 'two packets from the frame the older began in')
})

t.test('takeBack of a padded reply end: its padding is no longer ahead of the clock', async (t) => {
  const { r, sent } = regrouper(480)
  for (let k = 0; k < 4; k++) r.push(frame(1 + k * 160), false, k === 3, k * 20)
  t.equal(sent.length, 3, 'the end padded with 10 ms of silence')
  r.takeBack(1)
  // Had the padding still counted as sent ahead, the first 10 ms of this silence would be left out.
  r.push(SILENCE, true, false, 80)
  r.push(SILENCE, true, false, 100)
  r.push(SILENCE, true, false, 120)
  t.equal(sent.length - 3 + r.pendingMs / 30, 2, 'three frames of silence: two whole packets')
})

t.test('forCall: a regrouper only for packets that are not 20 ms, said once', async (t) => {
  const { logger, records } = captureLogs()
  const send = (): void => {}
  t.equal(PacketRegrouper.forCall(320, 8000, send, logger), undefined)
  t.equal(PacketRegrouper.forCall(640, 16000, send, logger), undefined)
  t.equal(records.length, 0)
  t.equal(PacketRegrouper.forCall(480, 8000, send, logger)?.packetBytes, 480)
  t.match(records, [{ level: 30, frameMs: 30 }])
  t.throws(() => new PacketRegrouper(481, 8000, send), RangeError)
})
