import type { Logger } from 'pino'
import { abortReason } from '../../errors.ts'
import type { InboundFrame } from '../../media/stream/index.ts'
import type { EndpointingConfig } from '../../media/stream/turn-taking.ts'
import type { VadEvent, VoiceDetector } from '../../media/vad/index.ts'
import type { SttProvider } from '../../speech/stt/types.ts'
import { completion } from '../conversation/words.ts'
import type { Heard, ListenOptions } from '../turn-media.ts'
import { UtteranceRecognition, type Recognised } from './utterance.ts'

/**
 * Stream mode's listen: wait for the caller's speech, recognise it as it comes, and decide when
 * the turn is over.
 *
 * Adaptive endpointing: the VAD reports a pause after `minSilenceMs`; the recogniser then
 * finishes what was said so far. Finished words ("Vorrei un appuntamento.") end the turn at
 * once; words that trail off ("e…", "perché…", a number being dictated) keep the turn open
 * until `maxSilenceMs` of silence. If the caller goes on meanwhile, the finished recognition is
 * dropped (counted: its audio is billed) and a new one replays the whole utterance.
 */

/** Speech already under way when listening starts (it began over the agent's reply). */
export interface CarriedSpeech {
  /** The detector that is following the speech (still going on); owned by whoever takes it. */
  readonly vad?: VoiceDetector | undefined
  readonly frames: readonly InboundFrame[]
  readonly startAt: number
  /** Set when the overlap already ended and was recognised (an interrupting word, a question). */
  readonly recognised?: { readonly text: Recognised, readonly endAt: number, readonly audioMs: number } | undefined
  /** Set when the speech already ended (epoch ms) but is not recognised yet. */
  readonly endedAt?: number | undefined
}

export interface HearDeps {
  readonly stt: SttProvider
  readonly sampleRate: number
  /** A VAD whose end-of-speech silence is the candidate pause (minSilenceMs, or the fixed one). */
  readonly newVad: () => VoiceDetector
  /** The last frames before now (pre-roll), oldest first. */
  readonly ring: () => readonly InboundFrame[]
  /** Route inbound frames to `consumer` until the returned function is called. */
  readonly subscribe: (consumer: (frame: InboundFrame) => void) => () => void
  readonly endpointing: EndpointingConfig
  readonly preRollMs: number
  readonly log: Logger
  readonly signal: AbortSignal
}

/**
 * A listen whose frames stop (no datagram at all, not even FreeSWITCH's 0xFF fill) ends the
 * caller's turn after this much silence on the wall clock: audio that never comes is silence.
 */
const STALLED_STREAM_MS = 1000
const WATCH_MS = 50

export async function hear (deps: HearDeps, options: ListenOptions, carried: CarriedSpeech | undefined, signal: AbortSignal): Promise<Heard> {
  const sig = AbortSignal.any([deps.signal, signal])
  if (sig.aborted) throw abortReason(sig)
  if (carried?.recognised !== undefined) {
    options.onSpeechEnd?.(carried.recognised.endAt)
    return heardFrom(carried.recognised.text, carried.startAt, carried.recognised.endAt, carried.recognised.audioMs, 0)
  }
  const began = Date.now()
  const vad = carried?.vad ?? deps.newVad()
  const adaptive = deps.endpointing.adaptive
  let recognition: UtteranceRecognition | undefined
  let startedAt = carried?.startAt
  const open = (frames: readonly InboundFrame[]): UtteranceRecognition =>
    new UtteranceRecognition(deps.stt, { sampleRate: deps.sampleRate, language: options.language, hints: options.hints, signal: sig }, frames)
  if (carried !== undefined) recognition = open(carried.frames)

  // The pause being judged: when it began (wall clock), and the transcript requested for it.
  let pause: { endAt: number, transcript: Promise<Recognised> } | undefined
  let lastFrameAt = Date.now()
  /** The utterance reached its longest: its end was reported. */
  let cutShort = false
  try {
    return await new Promise<Heard>((resolve, reject) => {
      let settled = false
      const finish = (h: Heard): void => { if (!settled) { settled = true; cleanup(); resolve(h) } }
      const fail = (err: unknown): void => { if (!settled) { settled = true; cleanup(); reject(err) } }
      const onAbort = (): void => { fail(abortReason(sig)) }
      const conclude = (text: Recognised, endAt: number): void => {
        const r = recognition as UtteranceRecognition
        finish(heardFrom(text, startedAt ?? began, endAt, r.audioMs, r.discarded, r.discardedMs))
      }
      const judge = (p: NonNullable<typeof pause>): void => {
        p.transcript.then((text) => {
          if (pause !== p || settled) return
          if (!adaptive || completion(text.text, options.language) === 'complete') { conclude(text, p.endAt); return }
          deps.log.debug({ heldMs: deps.endpointing.maxSilenceMs }, 'words trail off: waiting for more')
        }, (err: unknown) => { if (pause === p) fail(err) })
      }
      const watch = setInterval(() => {
        const now = Date.now()
        if (recognition === undefined && now - began >= options.noInputMs) { finish({ kind: 'no-input' }); return }
        if (now - began >= options.noInputMs + options.maxSpeechMs && recognition !== undefined) {
          const endAt = pause?.endAt ?? now
          if (pause === undefined && !cutShort) { cutShort = true; options.onSpeechEnd?.(endAt) }
          recognition.finish().then((text) => { conclude(text, endAt) }, fail)
          return
        }
        // Trailing words: the turn ends once the pause reaches maxSilenceMs.
        const p = pause
        if (p !== undefined && now - p.endAt >= deps.endpointing.maxSilenceMs) {
          p.transcript.then((text) => { if (pause === p) conclude(text, p.endAt) }, fail)
          return
        }
        if (recognition !== undefined && pause === undefined && now - lastFrameAt > STALLED_STREAM_MS) {
          const endAt = lastFrameAt
          pause = { endAt, transcript: recognition.finish() }
          options.onSpeechEnd?.(endAt)
          pause.transcript.then((text) => { conclude(text, endAt) }, fail)
        }
      }, WATCH_MS)
      if (carried?.endedAt !== undefined && recognition !== undefined) {
        pause = { endAt: carried.endedAt, transcript: recognition.finish() }
        options.onSpeechEnd?.(carried.endedAt)
        judge(pause)
      }
      const unsubscribe = deps.subscribe((frame) => {
        lastFrameAt = Date.now()
        const event: VadEvent | undefined = vad.push(frame.vadSamples ?? frame.samples, frame.mediaMs)
        if (recognition === undefined) {
          if (event?.type !== 'speech-start') return
          startedAt = wallClockOf(event.at, event.detectedAt)
          // From the onset (minus the pre-roll), not from where the VAD confirmed it.
          const from = event.at - deps.preRollMs
          recognition = open(deps.ring().filter((f) => f.mediaMs >= from))
          return
        }
        recognition.push(frame)
        if (event?.type === 'speech-end' && pause === undefined) {
          const endAt = wallClockOf(event.endAt, event.detectedAt)
          pause = { endAt, transcript: recognition.finish() }
          options.onSpeechEnd?.(endAt)
          judge(pause)
        } else if (event?.type === 'speech-start' && pause !== undefined) {
          // The caller went on: what was recognised so far is not the turn.
          pause = undefined
          recognition.reopen()
          options.onSpeechResumed?.()
        }
      })
      const cleanup = (): void => {
        clearInterval(watch)
        unsubscribe()
        sig.removeEventListener('abort', onAbort)
      }
      sig.addEventListener('abort', onAbort, { once: true })
    })
  } finally {
    recognition?.dispose()
    vad.close()
  }
}

/**
 * The wall-clock time of `mediaMs` on the caller's media timeline, seen from the frame being
 * handled now: an event's `detectedAt` is the end of the frame that completed it, whose last
 * sample has just arrived. (Anchoring on that frame's start put every mark a frame, 20 ms, late.)
 */
export function wallClockOf (mediaMs: number, detectedAt: number, now = Date.now()): number {
  return now - (detectedAt - mediaMs)
}

function heardFrom (text: Recognised, startedAt: number, endedAt: number, audioMs: number, discarded: number, discardedMs = 0): Heard {
  if (text.text === '') return { kind: 'no-match', startedAt, endedAt }
  return {
    kind: 'speech',
    text: text.text,
    confidence: text.confidence,
    startedAt,
    endedAt,
    transcribedAt: Date.now(),
    audioMs,
    ...(discarded > 0 ? { discardedRecognitions: discarded, discardedAudioMs: discardedMs } : {}),
  }
}
