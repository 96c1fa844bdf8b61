import t from 'tap'
import { FakeFreeSwitch, type SimulatedCall } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import type { SttProvider, SttResult } from '../../lib/speech/stt/types.ts'
import { CALLER, CHAT, DID, reply, startRig } from './helpers.ts'

/**
 * The latency waterfall against the simulator's frame clock. The simulator sends caller frame
 * k (call time [20k, 20k + 20)) no earlier than t0 + 20(k + 1), and records when each of our
 * frames reached it; so the marks can be checked by frame arithmetic and ordering, not speed.
 */

const SPEAK_AT = 1000
const SPEAK_MS = 1000
const END_SILENCE_MS = 400

/** A steady voiced buzz (140 Hz and its harmonics), the same level to its last sample: every frame of it is voiced. */
function buzz (ms: number): Buffer {
  const n = ms * 8
  const samples = new Int16Array(n)
  for (let i = 0; i < n; i++) {
    let v = 0
    for (let h = 1; h * 140 < 3600; h++) v += Math.sin(2 * Math.PI * 140 * h * i / 8000) / h
    samples[i] = Math.round(v * 2500)
  }
  return encodeWav({ sampleRate: 8000, channels: 1, samples })
}

/**
 * A recogniser that stamps the moment the listen ends its audio: hear() does that in the same
 * synchronous step as it stamps the end of speech, on the frame that confirmed it.
 */
function stampingStt (text: string): { stt: SttProvider, endedAt: number[] } {
  const endedAt: number[] = []
  const stt: SttProvider = {
    name: 'stamping',
    transcribe: async () => ({ text, durationMs: 0 }),
    stream: () => {
      let ended!: () => void
      const end = new Promise<void>((resolve) => { ended = resolve })
      return {
        write: () => {},
        end: () => { endedAt.push(Date.now()); ended() },
        results: (async function * (): AsyncGenerator<SttResult> {
          await end
          yield { text, isFinal: true }
        })(),
      }
    },
  }
  return { stt, endedAt }
}

/** Wall-clock time of the call's time 0 (same process, same clock); the largest read is exact. */
function timeZero (call: SimulatedCall): number {
  let t0 = Number.NEGATIVE_INFINITY
  for (let i = 0; i < 3; i++) t0 = Math.max(t0, Date.now() - call.nowMs)
  return t0
}

t.test('stream mode: speechEndAt is the end of the caller\'s last voiced frame; firstFrameAt when the reply\'s first frame left', async (t) => {
  const { stt, endedAt } = stampingStt('Vorrei sapere gli orari.')
  const rig = await startRig(t, { stt, media: { mode: 'stream', stream: { endpointing: { adaptive: false, preemptive: false }, vad: { endSilenceMs: END_SILENCE_MS } } } })
  rig.fake.reply(CHAT, reply('Siamo aperti dalle nove alle diciotto.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const fs = new FakeFreeSwitch()
  const call = fs.placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [{ atMs: SPEAK_AT, wav: buzz(SPEAK_MS) }] } })
  const result = await call.ended
  t.equal(result.hungUpBy, 'server')
  const t0 = timeZero(call)
  const l = rig.store.calls[0]!.latency[0]!
  const voiceEnd = t0 + SPEAK_AT + SPEAK_MS

  // The frame that confirmed the end (END_SILENCE_MS after the voice) left the simulator no
  // earlier than its slot, and was handled no earlier than that: so the mark, counted back
  // from that frame's end, is never before the voice's real end.
  t.ok(l.speechEndAt! >= voiceEnd, `speechEndAt ${l.speechEndAt! - voiceEnd} ms after the caller's last voiced sample, never before`)
  // The recogniser's audio was ended when the end was confirmed, END_SILENCE_MS of frames
  // after the mark. Counted from the confirming frame's start (the old stamp), the mark was a
  // frame late and the confirmation came out 20 ms in the future.
  t.equal(endedAt.length, 1, 'one utterance')
  t.ok(l.speechEndAt! + END_SILENCE_MS <= endedAt[0]!, `the end of speech is counted back from the end of the confirming frame (confirmed ${endedAt[0]! - l.speechEndAt! - END_SILENCE_MS} ms after its last sample arrived)`)

  // The reply's first frame reached the simulator after it was handed to the socket.
  const first = call.ear.firstHeard(SPEAK_AT + SPEAK_MS, 200)!
  t.ok(first !== undefined && first.source === 'unicast', 'the reply was heard')
  const order = ['speechEndAt', 'sttFinalAt', 'llmFirstTokenAt', 'firstSentenceAt', 'ttsAudioAt', 'firstFrameAt'] as const
  for (let i = 1; i < order.length; i++) {
    t.ok(l[order[i - 1]!]! <= l[order[i]!]!, `${order[i - 1]} <= ${order[i]}`)
  }
  t.ok(l.firstFrameAt! <= t0 + first.arrivalMs, `firstFrameAt is when the frame left: it arrived ${t0 + first.arrivalMs - l.firstFrameAt!} ms later`)
  await rig.settled(t)
})
