/**
 * What holding the caller's audio as G.711 codes costs per 20 ms frame at 8 kHz, in nanoseconds
 * of CPU time (process.cpuUsage): the pre-roll history's push (lib/media/stream/frame-history.ts)
 * and the utterance's append (lib/media/held-pcm.ts), on a PCMA line's frames (every sample an
 * A-law value: held as codes) and on frames that are not (16-bit, as before the codes). Best of
 * five rounds each, alternated, since the machine may be shared.
 *
 *   node --import tsx bench/g711-hold.ts        # prints JSON
 */
import { HeldPcm } from '../lib/media/held-pcm.ts'
import { FrameHistory } from '../lib/media/stream/frame-history.ts'
import type { InboundFrame } from '../lib/media/stream/inbound.ts'
import { alawToLinear, linearToAlaw } from '../lib/simulator/g711.ts'
import { speechLike } from '../test/media-stream/signals.ts'

const FRAMES = 200
const PUSHES = 200_000

function lineFrames (alaw: boolean): InboundFrame[] {
  const speech = speechLike(8000, FRAMES / 50, -26)
  return Array.from({ length: FRAMES }, (_, seq) => {
    const samples = Int16Array.from(speech.subarray(seq * 160, seq * 160 + 160), (v) => alaw ? alawToLinear(linearToAlaw(v)) : v | 1)
    return { samples, sampleRate: 8000, seq, mediaMs: seq * 20, receivedAt: seq * 20, vadSamples: undefined }
  })
}

function cpuNs (run: () => void): number {
  const start = process.cpuUsage()
  run()
  const used = process.cpuUsage(start)
  return (used.user + used.system) * 1000
}

function history (frames: readonly InboundFrame[]): number {
  // The stream's defaults: 300 ms pre-roll and its margin quiet, the full capacity while loud.
  const h = new FrameHistory(115, { quietFrames: 20, loudPeak: 1000, holdFrames: 100 })
  return cpuNs(() => { for (let i = 0; i < PUSHES; i++) h.push(frames[i % FRAMES] as InboundFrame) }) / PUSHES
}

function utterance (frames: readonly InboundFrame[]): number {
  // An utterance of 185 frames (3.7 s), then a new one, as a call's turns go.
  let held = new HeldPcm({ compand: true })
  return cpuNs(() => {
    for (let i = 0; i < PUSHES; i++) {
      if (i % 185 === 0) held = new HeldPcm({ compand: true })
      held.append((frames[i % FRAMES] as InboundFrame).samples)
    }
  }) / PUSHES
}

const coded = lineFrames(true)
const wide = lineFrames(false)
const best = { historyCoded: Infinity, history16: Infinity, utteranceCoded: Infinity, utterance16: Infinity }
for (let round = 0; round < 5; round++) {
  best.historyCoded = Math.min(best.historyCoded, history(coded))
  best.history16 = Math.min(best.history16, history(wide))
  best.utteranceCoded = Math.min(best.utteranceCoded, utterance(coded))
  best.utterance16 = Math.min(best.utterance16, utterance(wide))
}
console.log(JSON.stringify(Object.fromEntries(Object.entries(best).map(([k, v]) => [`${k}Ns`, Math.round(v)]))))
