import type { Logger } from 'pino'
import { abortReason } from '../../errors.ts'
import type { InboundFrame } from '../../media/stream/index.ts'
import type { EndpointingConfig } from '../../media/stream/turn-taking.ts'
import type { FrameClass, VadEvent, VoiceDetector } from '../../media/vad/index.ts'
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
 *
 * Preemptive replies (`endpointing.preemptive`): the recogniser is finished earlier, at
 * `preemptAfterMs` of silence, and finished words are handed to `onPreempt` so the reply can
 * start while the end of the turn is still being confirmed; the turn then ends (or not) exactly
 * as without preemption, from the same transcript. Voice before the end is confirmed drops the
 * words (`onPreemptDropped`) and the recognition, as a pause the caller went on after.
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
  /** Why the stream will never carry audio (it never started), if so: the listen ends with it. */
  readonly failure?: () => Error | undefined
}

/**
 * A listen whose frames stop (no datagram at all, not even FreeSWITCH's 0xFF fill) ends the
 * caller's turn after this much silence on the wall clock: audio that never comes is silence.
 */
const STALLED_STREAM_MS = 1000
const WATCH_MS = 50
/**
 * A trailing pause is judged over on the wall clock only while the frames are this fresh. After a
 * stall of the event loop (a GC, the CPU busy elsewhere) timers run before the datagrams that
 * waited in the socket are read: the caller's next words may be among them. Until then the
 * verdict waits, at most STALLED_STREAM_MS (a CI run ended a turn at the pause after "e" that way:
 * test/call/hear-late-frames.spec.ts). A caller's silence does not starve the frames: FreeSWITCH
 * sends a 0xFF frame for every tick without caller RTP (switch_ivr.c switch_ivr_park: SFF_CNG ->
 * memset 255; the simulator too, lib/simulator/caller.ts), so only a late loop or a dead stream
 * leaves them stale.
 */
const FRESH_FRAMES_MS = 100
/** As the classic detector (lib/media/vad/vad.ts): unvoiced frames this soon after voicing are speech. */
const TRAILING_UNVOICED_MS = 300

export async function hear (deps: HearDeps, options: ListenOptions, carried: CarriedSpeech | undefined, signal: AbortSignal): Promise<Heard> {
  // The call's signal and the listen's, watched apart: no signal is made to join them (a turn
  // listens once; abort-link.ts says what each signal costs).
  const signals = [deps.signal, signal]
  if (deps.signal.aborted || signal.aborted) throw reasonOf(deps.signal, signal)
  if (carried?.recognised !== undefined) {
    options.onSpeechEnd?.(carried.recognised.endAt)
    return heardFrom(carried.recognised.text, carried.startAt, carried.recognised.endAt, carried.recognised.audioMs, 0)
  }
  const began = Date.now()
  const vad = carried?.vad ?? deps.newVad()
  const adaptive = deps.endpointing.adaptive
  let recognition: UtteranceRecognition | undefined
  let startedAt = carried?.startAt
  // Not a named arrow (see below): a listen is made per turn.
  const recognitionOptions = { sampleRate: deps.sampleRate, language: options.language, hints: options.hints, signals }
  if (carried !== undefined) recognition = new UtteranceRecognition(deps.stt, recognitionOptions, carried.frames)

  // The pause being judged: when it began (wall clock), and the transcript requested for it.
  let pause: { endAt: number, transcript: Promise<Recognised> } | undefined
  // A shorter pause whose transcript was requested ahead of the end of the turn (preemption),
  // and whether its words were handed on as a preemptive reply.
  let early: { transcript: Promise<Recognised> } | undefined
  let preempted = false
  const ep = deps.endpointing
  const preemptAtMs = ep.preemptive ? Math.min(ep.preemptAfterMs, adaptive ? ep.minSilenceMs : Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY
  const silence = new SilenceRun()
  let lastFrameAt = Date.now()
  /** The utterance reached its longest: its end was reported. */
  let cutShort = false
  try {
    return await new Promise<Heard>((resolve, reject) => {
      let settled = false
      // Methods, destructured, not named arrow functions: under tsx each named arrow made per
      // listen gets a `name` of its own (esbuild's keepNames), a 256-byte property dictionary, and
      // a quiet call listens for most of its life. None of them uses `this`.
      const { finish, fail, onAbort, conclude, judge, wentOn, preempt, cleanup } = {
        finish (h: Heard): void { if (!settled) { settled = true; cleanup(); resolve(h) } },
        fail (err: unknown): void { if (!settled) { settled = true; cleanup(); reject(err) } },
        onAbort (): void { fail(reasonOf(deps.signal, signal)) },
        conclude (text: Recognised, endAt: number): void {
          const r = recognition as UtteranceRecognition
          finish(heardFrom(text, startedAt ?? began, endAt, r.audioMs, r.discarded, r.discardedMs))
        },
        judge (p: NonNullable<typeof pause>): void {
          p.transcript.then((text) => {
            if (pause !== p || settled) return
            if (!adaptive || completion(text.text, options.language) === 'complete') { conclude(text, p.endAt); return }
            deps.log.debug({ heldMs: deps.endpointing.maxSilenceMs }, 'words trail off: waiting for more')
          }, (err: unknown) => { if (pause === p) fail(err) })
        },
        /** The caller went on: what was recognised so far (and any reply started on it) is not the turn. */
        wentOn (): void {
          early = undefined
          recognition?.reopen()
          if (preempted) {
            preempted = false
            deps.log.debug('caller went on: preemptive reply dropped')
            options.onPreemptDropped?.()
          }
        },
        preempt (r: UtteranceRecognition): void {
          deps.log.debug({ silenceMs: silence.ms }, 'short pause: recognising the words so far')
          const e = early = { transcript: r.finish() }
          e.transcript.then((text) => {
            if (early !== e || settled || text.text === '') return
            if (adaptive && completion(text.text, options.language) !== 'complete') return
            preempted = true
            deps.log.debug({ silenceMs: silence.ms }, 'words finished at a short pause: preemptive reply')
            options.onPreempt?.(text.text)
          }, () => {})
        },
        cleanup (): void {
          clearInterval(watch)
          unsubscribe()
          for (const s of signals) s.removeEventListener('abort', onAbort)
        },
      }
      const watch = setInterval(() => {
        const failure = deps.failure?.()
        if (failure !== undefined) { fail(failure); return }
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
        const framesBehind = now - lastFrameAt > FRESH_FRAMES_MS && now - lastFrameAt <= STALLED_STREAM_MS
        if (p !== undefined && now - p.endAt >= deps.endpointing.maxSilenceMs && !framesBehind) {
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
          recognition = new UtteranceRecognition(deps.stt, recognitionOptions, deps.ring().filter((f) => f.mediaMs >= from))
          return
        }
        recognition.push(frame)
        silence.push(vad.lastFrame?.class, frame.samples.length * 1000 / frame.sampleRate)
        if (event?.type === 'speech-end' && pause === undefined) {
          const endAt = wallClockOf(event.endAt, event.detectedAt)
          pause = { endAt, transcript: early?.transcript ?? recognition.finish() }
          deps.log.debug({ endAt, preempted }, 'caller paused')
          options.onSpeechEnd?.(endAt)
          judge(pause)
        } else if (event?.type === 'speech-start' && pause !== undefined) {
          pause = undefined
          wentOn()
          options.onSpeechResumed?.()
        } else if (pause === undefined && early !== undefined && silence.ms === 0) {
          // Voice before the end of the turn was confirmed (the detector's own silence restarts too).
          wentOn()
        } else if (pause === undefined && early === undefined && silence.ms >= preemptAtMs) {
          preempt(recognition)
        }
      })
      for (const s of signals) s.addEventListener('abort', onAbort, { once: true })
    })
  } finally {
    recognition?.dispose()
    vad.close()
  }
}

/** Why a listen stopped: the call's end first, else the listen's own abort. */
function reasonOf (call: AbortSignal, listen: AbortSignal): Error {
  return abortReason(call.aborted ? call : listen)
}

/**
 * Silence since the caller's last speech, counted as the classic detector counts it (voiced
 * frames, and unvoiced ones shortly after voicing, are speech: the "s" of "yes"), from each
 * frame's classic verdict: the preemptive pause is judged on the same frames as the end of turn.
 */
class SilenceRun {
  ms = 0
  #sinceVoicedMs = Number.POSITIVE_INFINITY

  push (cls: FrameClass | undefined, frameMs: number): void {
    this.#sinceVoicedMs = cls === 'voiced' ? 0 : this.#sinceVoicedMs + frameMs
    const active = cls === 'voiced' || (cls === 'unvoiced' && this.#sinceVoicedMs <= TRAILING_UNVOICED_MS)
    this.ms = active ? 0 : this.ms + frameMs
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
