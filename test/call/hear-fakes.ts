import type { VadEvent, VoiceDetector } from '../../lib/media/vad/index.ts'
import type { SttProvider, SttSession, SttStreamOptions } from '../../lib/speech/stt/types.ts'

/**
 * A recogniser for hear.ts's tests: its n-th session hears `texts[n]` (the last one for any after)
 * once the session ends, and fails with the session's reason when it is aborted. `signals`
 * collects the signal each session got.
 */
export function endingStt (texts: readonly string[], signals: AbortSignal[] = []): SttProvider {
  let sessions = 0
  return {
    name: 'fake',
    transcribe: async () => { throw new Error('not used') },
    stream (options: SttStreamOptions): SttSession {
      signals.push(options.signal as AbortSignal)
      const text = texts[Math.min(sessions++, texts.length - 1)] as string
      let ended!: () => void
      const done = new Promise<void>((resolve) => { ended = resolve })
      return {
        write () {},
        end () { ended() },
        results: (async function * () {
          await new Promise<void>((resolve, reject) => {
            void done.then(resolve)
            options.signal?.addEventListener('abort', () => { reject(options.signal?.reason) }, { once: true })
          })
          yield { text, isFinal: true, confidence: 0.9 }
        })(),
      }
    },
  }
}

/** The detector's verdicts, scripted: speech from the 3rd frame, its end at the 8th; speech again at frame `resumeAt`, its end 5 frames later. */
export function scriptedVad (script: { resumeAt?: number } = {}): VoiceDetector {
  let n = 0
  return {
    speaking: false,
    speechEndSoFar: undefined,
    lastFrame: undefined,
    push (_samples, at): VadEvent | undefined {
      n++
      if (n === 3 || n === script.resumeAt) return { type: 'speech-start', at: at - 40, detectedAt: at + 20 } as VadEvent
      if (n === 8 || (script.resumeAt !== undefined && n === script.resumeAt + 5)) return { type: 'speech-end', startAt: 0, endAt: at - 40, detectedAt: at + 20 } as unknown as VadEvent
      return undefined
    },
    close () {},
  }
}
