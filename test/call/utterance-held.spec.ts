import t from 'tap'
import { UtteranceRecognition } from '../../lib/call/stream/utterance.ts'
import type { InboundFrame } from '../../lib/media/stream/index.ts'
import { bufferedSession } from '../../lib/speech/stt/buffered-session.ts'
import type { SttProvider, SttSession, SttStreamOptions } from '../../lib/speech/stt/types.ts'
import type { PcmChunk } from '../../lib/speech/types.ts'
import { alawToLinear, linearToAlaw } from '../../lib/simulator/g711.ts'

/**
 * The utterance's audio is held once (issue 18, memory per call): a recogniser that transcribes
 * whole utterances reads it from the utterance at its end, at a byte per sample on a G.711 line;
 * one that streams gets every frame as 16-bit PCM, as before. Either way it hears exactly what the
 * caller sent, across a restart after a tentative end (adaptive endpointing).
 */

/** A 20 ms frame at 8 kHz as a PCMA line carries it (or with one sample no A-law code gives). */
function frame (seq: number, odd = false): InboundFrame {
  const samples = Int16Array.from({ length: 160 }, (_, i) => alawToLinear(linearToAlaw(Math.round(6000 * Math.sin((seq * 160 + i) * 0.21)))))
  if (odd) samples[5] = 1001
  return { samples, sampleRate: 8000, seq, mediaMs: seq * 20, receivedAt: seq * 20 }
}

const bytes = (frames: readonly InboundFrame[]): Buffer => Buffer.concat(frames.map((f) => Buffer.from(f.samples.buffer, f.samples.byteOffset, f.samples.byteLength)))

/** Whole-utterance recogniser (OpenAI-style): what each session's transcription was given. */
function wholeStt (given: PcmChunk[]): SttProvider {
  return {
    name: 'whole',
    transcribe: async () => ({ text: 'x', durationMs: 0 }),
    stream: (o: SttStreamOptions): SttSession => bufferedSession(async (audio) => { given.push(audio); return { text: `heard ${given.length}`, durationMs: 0 } }, o),
  }
}

/** Streaming recogniser: the frames each session was written. */
function streamingStt (written: Buffer[][]): SttProvider {
  return {
    name: 'streaming',
    transcribe: async () => ({ text: 'x', durationMs: 0 }),
    stream: (): SttSession => {
      const mine: Buffer[] = []
      written.push(mine)
      const results: AsyncIterable<never> = { async * [Symbol.asyncIterator] () {} }
      return { write: (f) => { mine.push(f) }, end () {}, results }
    },
  }
}

const options = { sampleRate: 8000, language: 'it-IT', signals: [] }

t.test('whole-utterance recogniser on a PCMA line: read from the utterance at its end, exactly, also after a restart', async (t) => {
  const given: PcmChunk[] = []
  const frames = Array.from({ length: 40 }, (_, i) => frame(i))
  const r = new UtteranceRecognition(wholeStt(given), options, frames.slice(0, 15))
  for (const f of frames.slice(15, 25)) r.push(f)
  t.same(await r.finish(), { text: 'heard 1', confidence: undefined })
  t.ok(given[0]?.pcm.equals(bytes(frames.slice(0, 25))), 'the first 25 frames, as sent')
  for (const f of frames.slice(25)) r.push(f)
  r.reopen()
  t.same(await r.finish(), { text: 'heard 2', confidence: undefined })
  t.ok(given[1]?.pcm.equals(bytes(frames)), 'the new session hears everything from the onset')
  t.equal(r.audioMs, 800)
  r.dispose()
})

t.test('a frame that is no G.711 audio midway: still exactly what was sent', async (t) => {
  const given: PcmChunk[] = []
  const frames = Array.from({ length: 20 }, (_, i) => frame(i, i === 12))
  const r = new UtteranceRecognition(wholeStt(given), options, [])
  for (const f of frames) r.push(f)
  await r.finish()
  t.ok(given[0]?.pcm.equals(bytes(frames)))
  r.dispose()
})

t.test('streaming recogniser: every frame written as 16-bit PCM, replayed whole on a restart', async (t) => {
  const written: Buffer[][] = []
  const frames = Array.from({ length: 30 }, (_, i) => frame(i))
  const r = new UtteranceRecognition(streamingStt(written), options, frames.slice(0, 10))
  for (const f of frames.slice(10, 20)) r.push(f)
  void r.finish()
  t.ok(Buffer.concat(written[0] ?? []).equals(bytes(frames.slice(0, 20))))
  for (const f of frames.slice(20)) r.push(f)
  r.reopen()
  t.ok(Buffer.concat(written[1] ?? []).equals(bytes(frames)), 'the replay and nothing else')
  r.dispose()
})
