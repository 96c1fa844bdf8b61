import { pino, type Logger } from 'pino'
import { PhoneAgentError, abortReason, type ErrorCode } from '../../errors.ts'
import { StreamingResampler } from '../../media/resample-stream.ts'
import { AsyncQueue } from '../../providers/async-queue.ts'
import { pcmDurationMs } from '../../providers/audio.ts'
import type { ProviderQueue } from '../../providers/queue.ts'
import { withRetry, type RetryPolicy } from '../../providers/retry.ts'
import { VendorSocket, base64FromPcm } from '../../realtime/socket.ts'
import type { PcmChunk } from '../types.ts'
import type { SttOptions, SttProvider, SttResult, SttSession, SttStreamOptions, Transcript } from './types.ts'

/**
 * OpenAI's realtime transcription session over WebSocket (Realtime API, GA event names):
 * `GET /v1/realtime?intent=transcription` upgraded, `session.update` with
 * `session.type: transcription` (24 kHz PCM16 in, the transcription model, no turn detection),
 * `input_audio_buffer.append` with base64 audio as the caller speaks, `input_audio_buffer.commit`
 * when our own endpointing says the utterance is over, then
 * `conversation.item.input_audio_transcription.delta` (interim) and `.completed` (final).
 *
 * Turn detection is ours, not the server's: our VAD already decides when the caller stopped
 * (with barge-in and adaptive endpointing), and a server VAD committing mid-utterance would cut
 * the audio where we would not. OpenAI's realtime transcription guide does the same (manual
 * commit, `turn_detection: null`); models that stream (gpt-live-transcribe) send deltas while the
 * caller speaks, gpt-4o-*-transcribe and whisper-1 after the commit.
 */

/** The only input rate the session takes for PCM (RealtimeTranscriptionSessionAudioInput.format). */
const VENDOR_RATE = 24_000
/** Audio goes up in 100 ms appends: 50 messages a second of 20 ms frames is chatter for nothing. */
const APPEND_SAMPLES = VENDOR_RATE / 10
const silent = pino({ enabled: false })

export interface OpenAiStreamingSttOptions {
  /** `wss://api.openai.com/v1/realtime?intent=transcription` (see `realtimeTranscriptionUrl`). */
  readonly url: string
  readonly apiKey: string | undefined
  readonly name: string
  readonly model: string
  readonly language?: string | undefined
  readonly hints?: readonly string[] | undefined
  readonly queue: ProviderQueue
  readonly retry: RetryPolicy
  /** Connecting, and from the end of the audio to the final transcript. */
  readonly timeoutMs: number
  readonly log?: Logger | undefined
  readonly random?: () => number
}

/** The REST base URL (`https://api.openai.com/v1`) -> the transcription WebSocket. */
export function realtimeTranscriptionUrl (baseUrl: string): string {
  const url = new URL(baseUrl)
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:'
  url.pathname = `${url.pathname.replace(/\/$/, '')}/realtime`
  url.search = '?intent=transcription'
  return url.toString()
}

/** `error.type` of a server `error` event (or a failed transcription) -> our code. */
function codeFor (type: unknown): ErrorCode {
  switch (type) {
    case 'invalid_request_error': return 'PROVIDER_BAD_REQUEST'
    case 'authentication_error':
    case 'permission_error': return 'PROVIDER_AUTH'
    case 'rate_limit_exceeded':
    case 'rate_limit_error': return 'PROVIDER_RATE_LIMITED'
    default: return 'PROVIDER_UNAVAILABLE'
  }
}

export class OpenAiStreamingStt implements SttProvider {
  readonly name: string
  readonly #o: OpenAiStreamingSttOptions

  constructor (options: OpenAiStreamingSttOptions) {
    this.#o = options
    this.name = options.name
  }

  /** A whole utterance (files mode, voicemail): one session, all the audio, one commit. */
  async transcribe (audio: PcmChunk, options: SttOptions): Promise<Transcript> {
    const o = this.#o
    const language = options.language ?? o.language
    const text = await withRetry(async (signal) => {
      const session = this.stream({ ...options, signal, sampleRate: audio.sampleRate })
      session.write(audio.pcm)
      session.end()
      const finals: string[] = []
      for await (const r of session.results) if (r.isFinal && r.text !== '') finals.push(r.text)
      return finals.join(' ')
    }, { provider: o.name, operation: 'transcribe', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, log: o.log, ...(o.random ? { random: o.random } : {}) })
    return { text, language, durationMs: pcmDurationMs(audio) }
  }

  /**
   * A live session: it holds a queue slot until it ends and is not retried (audio already sent
   * cannot be replayed in time to matter; FailoverStt replays it into the next provider).
   */
  stream (options: SttStreamOptions): SttSession {
    const o = this.#o
    const what = `${o.name} stream`
    const language = options.language ?? o.language
    const hints = options.hints ?? o.hints ?? []
    const resampler = new StreamingResampler(options.sampleRate, VENDOR_RATE)
    const pending: Int16Array[] = []
    let pendingSamples = 0
    let bytes = 0
    let ended = false
    let committed = false
    let finished = false
    let socket: VendorSocket | undefined
    let opened = false
    let release: (() => void) | undefined
    let deadline: NodeJS.Timeout | undefined
    const interim = new Map<string, string>()

    const finish = (err?: unknown): void => {
      if (finished) return
      finished = true
      clearTimeout(deadline)
      options.signal?.removeEventListener('abort', onAbort)
      socket?.close()
      release?.()
      if (bytes > 0) options.usage?.addStt(o.name, o.model, bytes / 2 / options.sampleRate)
      if (err === undefined) results.end()
      else results.fail(err)
    }
    const onAbort = (): void => { finish(abortReason(options.signal as AbortSignal)) }
    // The consumer stopped reading: close the socket, nobody wants its results.
    const results = new AsyncQueue<SttResult>(() => { finish(new PhoneAgentError('TURN_OVER', 'recognition no longer read')) })

    const send = (samples: Int16Array): void => {
      if (samples.length === 0) return
      pending.push(samples)
      pendingSamples += samples.length
    }
    /** Appends what is queued once there is enough of it (or `all`), when the socket is open. */
    const flush = (all: boolean): void => {
      if (!opened || socket === undefined || pendingSamples === 0 || (!all && pendingSamples < APPEND_SAMPLES)) return
      const joined = new Int16Array(pendingSamples)
      let at = 0
      for (const p of pending.splice(0)) { joined.set(p, at); at += p.length }
      pendingSamples = 0
      socket.send({ type: 'input_audio_buffer.append', audio: base64FromPcm(joined) })
    }
    const commit = (): void => {
      if (!ended || !opened || committed || socket === undefined) return
      send(resampler.flush())
      flush(true)
      committed = true
      // An empty buffer cannot be committed (the server answers input_audio_buffer_commit_empty).
      if (bytes === 0) { finish(); return }
      socket.send({ type: 'input_audio_buffer.commit' })
      deadline = setTimeout(() => { finish(new PhoneAgentError('PROVIDER_TIMEOUT', `${what}: no transcript within ${o.timeoutMs} ms of the end of the audio`)) }, o.timeoutMs)
    }

    const handle = (m: Record<string, unknown>): void => {
      if (finished) return
      switch (m.type) {
        case 'session.updated':
        case 'transcription_session.updated':
          socket?.markReady()
          return
        case 'conversation.item.input_audio_transcription.delta': {
          if (typeof m.delta !== 'string') throw VendorSocket.garbage(o.name, 'a transcription delta without text')
          const item = String(m.item_id ?? '')
          const text = (interim.get(item) ?? '') + m.delta
          interim.set(item, text)
          if (text.trim() !== '') results.push({ text: text.trim(), isFinal: false })
          return
        }
        case 'conversation.item.input_audio_transcription.completed': {
          if (typeof m.transcript !== 'string') throw VendorSocket.garbage(o.name, 'a completed transcription without a transcript')
          const text = m.transcript.trim()
          if (text !== '') results.push({ text, isFinal: true })
          // One commit, one item: its transcript is the whole utterance.
          if (committed) finish()
          return
        }
        case 'conversation.item.input_audio_transcription.failed':
        case 'error': {
          const e = (m.error ?? {}) as { type?: unknown, code?: unknown }
          const detail = [e.type, e.code].filter((x) => typeof x === 'string').join(', ')
          finish(new PhoneAgentError(codeFor(e.type), `${what}: ${m.type === 'error' ? 'server error' : 'transcription failed'}${detail === '' ? '' : ` (${detail})`}`))
        }
      }
    }

    const start = async (): Promise<void> => {
      const slot = await o.queue.acquire(options.signal)
      if (finished) { slot(); return }
      release = slot
      const s = new VendorSocket({
        url: o.url,
        headers: o.apiKey === undefined ? {} : { Authorization: `Bearer ${o.apiKey}` },
        vendor: o.name,
        openTimeoutMs: o.timeoutMs,
        signal: options.signal ?? new AbortController().signal,
        log: o.log ?? silent,
      }, (message) => { handle(message as Record<string, unknown>) })
      socket = s
      // The socket's own stream carries only its failures (a refused upgrade, a close, garbage).
      s.queue[Symbol.asyncIterator]().next().then(() => { if (!finished) finish(new PhoneAgentError('PROVIDER_UNAVAILABLE', `${what}: the session closed before the transcript`)) }, (err: unknown) => { finish(err) })
      s.onOpen(() => {
        opened = true
        s.send({
          type: 'session.update',
          session: {
            type: 'transcription',
            audio: {
              input: {
                format: { type: 'audio/pcm', rate: VENDOR_RATE },
                transcription: {
                  model: o.model,
                  // ISO-639-1 (`it`), not a BCP-47 region tag.
                  ...(language === undefined ? {} : { language: language.split('-')[0] ?? language }),
                  ...(hints.length === 0 ? {} : { prompt: hints.join(', ') }),
                },
                turn_detection: null,
              },
            },
          },
        })
        flush(true)
        commit()
      })
    }

    if (options.signal?.aborted === true) onAbort()
    else {
      options.signal?.addEventListener('abort', onAbort, { once: true })
      start().catch((err: unknown) => { finish(err instanceof PhoneAgentError ? err : new PhoneAgentError('PROVIDER_UNAVAILABLE', `${what}: could not start`, { cause: err })) })
    }

    return {
      write (frame: Buffer): void {
        if (ended || finished || frame.length < 2) return
        bytes += frame.length - (frame.length % 2)
        const samples = new Int16Array(frame.length >> 1)
        for (let i = 0; i < samples.length; i++) samples[i] = frame.readInt16LE(i * 2)
        send(resampler.push(samples))
        flush(false)
      },
      end (): void {
        if (ended) return
        ended = true
        commit()
      },
      results,
    }
  }
}
