import { readFile, unlink } from 'node:fs/promises'
import { PhoneAgentError, abortReason } from '../errors.ts'
import { bytesFromInt16, toMono } from '../media/pcm.ts'
import { parseWav } from '../media/wav.ts'
import type { VerbContext } from './context.ts'
import type { Heard, ListenOptions, SpeakOptions, SpokenResult, TurnMedia } from './turn-media.ts'
import { speakSentences } from './sentence-pipeline.ts'
import { playPath } from './verbs/play.ts'
import { record } from './verbs/record.ts'

export interface FilesMediaOptions {
  /** FreeSWITCH silence threshold (average absolute sample value of a 20 ms frame). */
  readonly silenceThreshold?: number
  /** Seconds of silence that end an utterance. */
  readonly silenceSeconds?: number
  /** TTS request to its audio, per sentence. */
  readonly ttsFirstAudioMs?: number
}

/** Frames above the threshold needed to call a recording speech rather than a click. */
const MIN_LOUD_FRAMES = 3
const FRAME_MS = 20

/**
 * Files mode: the caller is heard with FreeSWITCH `record` (silence detection ends it) and the
 * WAV is sent to `stt.transcribe`; replies are synthesised to files and played with `playback`.
 *
 * FreeSWITCH's silence detection counts from the start of the recording
 * (switch_ivr_record_file: silence_hits), so a caller who has not started talking ends it after
 * `silenceSeconds`. `listen` therefore records in short windows until one holds speech or
 * `noInputMs` has passed; a word spoken in the few milliseconds between two windows is lost,
 * which streaming mode does not suffer from.
 */
export class FilesTurnMedia implements TurnMedia {
  readonly #ctx: VerbContext
  readonly #threshold: number
  readonly #silenceSeconds: number
  readonly #ttsMs: number

  constructor (ctx: VerbContext, options: FilesMediaOptions = {}) {
    this.#ctx = ctx
    this.#threshold = options.silenceThreshold ?? 200
    this.#silenceSeconds = options.silenceSeconds ?? 1
    this.#ttsMs = options.ttsFirstAudioMs ?? 4000
  }

  async listen (options: ListenOptions, signal: AbortSignal): Promise<Heard> {
    const ctx = this.#ctx
    const stt = ctx.stt
    if (stt === undefined) throw new PhoneAgentError('CONFIG_INVALID', 'listening needs a speech-to-text provider (speech.stt)')
    const began = Date.now()
    const maxSeconds = Math.max(1, Math.ceil(options.maxSpeechMs / 1000))
    for (;;) {
      if (signal.aborted) throw abortReason(signal)
      if (Date.now() - began >= options.noInputMs) return { kind: 'no-input' }
      const windowAt = Date.now()
      // An utterance, not a message: no tone before it, not filed with the call record.
      const rec = await record(ctx, { maxSeconds, silence: { threshold: this.#threshold, seconds: this.#silenceSeconds }, signal, beep: false, asMessage: false })
      const stoppedAt = Date.now()
      if (rec?.hungUp === true || !ctx.channel.isUp) {
        if (rec) await unlink(rec.path).catch(() => {})
        throw abortReason(ctx.signal.aborted ? ctx.signal : signal)
      }
      if (rec === undefined) continue
      let audio
      try {
        audio = toMono(parseWav(await readFile(rec.path)))
      } finally {
        // The transcript is what the call keeps; the utterance audio is not a message.
        await unlink(rec.path).catch(() => {})
      }
      const speech = findSpeech(audio.samples, audio.sampleRate, this.#threshold)
      if (speech === undefined) continue
      const startedAt = windowAt + speech.startMs
      const endedAt = Math.min(stoppedAt, windowAt + speech.endMs)
      // Known only now that the recording stopped (its silence detection took silenceSeconds).
      options.onSpeechEnd?.(endedAt)
      const transcript = await stt.transcribe(
        { pcm: bytesFromInt16(audio.samples), sampleRate: audio.sampleRate },
        { signal, language: options.language, hints: options.hints },
      )
      const transcribedAt = Date.now()
      if (transcript.text.trim() === '') return { kind: 'no-match', startedAt, endedAt }
      return {
        kind: 'speech',
        text: transcript.text.trim(),
        confidence: transcript.confidence,
        startedAt,
        endedAt,
        transcribedAt,
        audioMs: transcript.durationMs,
      }
    }
  }

  async speak (sentences: AsyncIterable<string>, options: SpeakOptions, signal: AbortSignal): Promise<SpokenResult> {
    const ctx = this.#ctx
    return await speakSentences(sentences, {
      ...options,
      speaker: ctx.speaker,
      voice: options.voice ?? ctx.voice,
      ttsFirstAudioMs: this.#ttsMs,
      play: async (index, rendered, sig) => {
        // FreeSWITCH's playback reads and sends the file's first frame as it starts.
        options.onFirstFrame?.(index)
        await playPath(ctx, rendered.path, { signal: sig })
      },
    }, [ctx.signal, signal])
  }
}

/** First and last loud frame of a recording, in ms from its start; undefined when it is all silence. */
export function findSpeech (samples: Int16Array, sampleRate: number, threshold: number): { startMs: number, endMs: number } | undefined {
  const frame = Math.max(1, Math.round(sampleRate * FRAME_MS / 1000))
  let first = -1
  let last = -1
  let loud = 0
  for (let i = 0, f = 0; i + frame <= samples.length; i += frame, f++) {
    let energy = 0
    for (let j = i; j < i + frame; j++) energy += Math.abs(samples[j] ?? 0)
    if (energy / frame < threshold) continue
    loud++
    if (first < 0) first = f
    last = f
  }
  if (loud < MIN_LOUD_FRAMES) return undefined
  return { startMs: first * FRAME_MS, endMs: (last + 1) * FRAME_MS }
}
