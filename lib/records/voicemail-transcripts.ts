import { readFile } from 'node:fs/promises'
import PQueue from 'p-queue'
import type { Logger } from 'pino'
import { parseWav } from '../media/wav.ts'
import type { SttProvider } from '../speech/stt/types.ts'
import { MessageTable, type PendingTranscript } from './owner-sql.ts'
import type { SqlDriver } from './sql.ts'

export interface VoicemailTranscriberOptions {
  readonly sql: SqlDriver
  readonly stt: Pick<SttProvider, 'transcribe' | 'name'>
  readonly attempts: number
  /** The language to ask for, by the number called (its route's); the provider's default when undefined. */
  readonly language?: ((did: string) => string | undefined) | undefined
  readonly logger: Logger
  /** Told when a call's message got its transcript (or gave up): its notification may go now. */
  readonly onSettled?: ((callUuid: string) => void) | undefined
  /** First retry delay; doubles each time. */
  readonly retryDelayMs?: number | undefined
}

/**
 * Voicemail transcripts: after a call ends, each of its recorded messages is read from disk and
 * sent to the STT provider, one at a time (a queue apart from any call: a call never waits for
 * it). The row is marked `pending` first, so a restart finishes what a stopped process left
 * (`resume`). A transient STT failure is retried with backoff; a missing or unreadable file,
 * or the last failed try, marks the message `failed`.
 */
export class VoicemailTranscriber {
  readonly #o: VoicemailTranscriberOptions
  readonly #messages: MessageTable
  readonly #queue = new PQueue({ concurrency: 1 })
  readonly #stop = new AbortController()
  readonly #queued = new Set<string>()

  constructor (options: VoicemailTranscriberOptions) {
    this.#o = options
    this.#messages = new MessageTable(options.sql)
  }

  /** Marks the call's recorded messages `pending` and queues them. Resolves once marked, not transcribed. */
  async callEnded (callUuid: string): Promise<number> {
    const pending = await this.#messages.queueTranscripts(callUuid)
    for (const p of pending) this.#add(p)
    return pending.length
  }

  /** Queues what a previous run left pending. */
  async resume (): Promise<number> {
    const pending = await this.#messages.pendingTranscripts()
    for (const p of pending) this.#add(p)
    return pending.length
  }

  /** Resolves when the queue is empty (tests, shutdown). */
  async idle (): Promise<void> {
    await this.#queue.onIdle()
  }

  /** Stops: the job in progress is abandoned (still `pending`, so the next start does it again). */
  async close (): Promise<void> {
    this.#stop.abort()
    this.#queue.clear()
    await this.#queue.onIdle()
  }

  #add (p: PendingTranscript): void {
    const key = `${p.callUuid}:${p.seq}`
    if (this.#queued.has(key) || this.#stop.signal.aborted) return
    this.#queued.add(key)
    void this.#queue.add(async () => {
      try {
        await this.#transcribe(p)
      } finally {
        this.#queued.delete(key)
      }
    })
  }

  async #transcribe (p: PendingTranscript): Promise<void> {
    const log = this.#o.logger.child({ call: p.callUuid, message: p.seq })
    let audio: { pcm: Buffer, sampleRate: number }
    try {
      const wav = parseWav(await readFile(p.recordingPath))
      audio = { pcm: firstChannel(wav.samples, wav.channels), sampleRate: wav.sampleRate }
    } catch (err) {
      log.warn({ err, path: p.recordingPath }, 'voicemail recording unreadable; no transcript')
      await this.#settle(p, 'failed', null, log)
      return
    }
    const delay = this.#o.retryDelayMs ?? 2000
    for (let attempt = 1; ; attempt++) {
      if (this.#stop.signal.aborted) return
      try {
        const transcript = await this.#o.stt.transcribe(audio, { signal: this.#stop.signal, language: this.#o.language?.(p.did) })
        await this.#settle(p, 'done', transcript.text.trim(), log)
        log.info({ attempt, chars: transcript.text.length }, 'voicemail transcribed')
        return
      } catch (err) {
        if (this.#stop.signal.aborted) return
        if (attempt >= this.#o.attempts) {
          log.error({ err, attempt, stt: this.#o.stt.name }, 'voicemail transcription failed for good')
          await this.#settle(p, 'failed', null, log)
          return
        }
        log.warn({ err, attempt, stt: this.#o.stt.name }, 'voicemail transcription failed; will retry')
        await sleep(delay * 2 ** (attempt - 1), this.#stop.signal)
      }
    }
  }

  async #settle (p: PendingTranscript, status: 'done' | 'failed', text: string | null, log: Logger): Promise<void> {
    try {
      await this.#messages.setTranscript(p.callUuid, p.seq, status, text)
      this.#o.onSettled?.(p.callUuid)
    } catch (err) {
      log.error({ err }, 'could not store the voicemail transcript')
    }
  }
}

function firstChannel (samples: Int16Array, channels: number): Buffer {
  const mono = channels === 1 ? samples : Int16Array.from({ length: Math.floor(samples.length / channels) }, (_, i) => samples[i * channels] ?? 0)
  return Buffer.from(mono.buffer, mono.byteOffset, mono.byteLength)
}

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
