import { createHash, randomUUID } from 'node:crypto'
import { readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Logger } from 'pino'
import { PhoneAgentError, abortReason, isPhoneAgentError, throwIfAborted } from '../errors.ts'
import type { PcmChunk, TtsProvider } from './types.ts'
import { CANONICAL_HEADER_BYTES, encodeWav, parseWav } from '../media/wav.ts'
import { concatInt16, toMono } from '../media/pcm.ts'
import { StreamingResampler } from '../media/resample-stream.ts'
import { bytesOf, samplesOf } from './pcm-views.ts'
import { CacheDirectory } from './tts-cache-dir.ts'
import { Synthesis } from './tts-inflight.ts'
import { SentenceMemory, type CacheAdmission } from './tts-admission.ts'

/**
 * Speech rendered to WAV files FreeSWITCH can `playback`, cached in `<soundsDir>/cache/`.
 *
 * File names are a hash of everything that changes the audio (provider, voice, language, rate,
 * text), so caller-controlled text never becomes part of a path, and a file on disk is reused
 * across restarts. The directory is bounded by size; the least recently used files go first
 * (tts-cache-dir.ts).
 *
 * Two ways out: render() resolves with the file once it is written (files mode plays it), and
 * stream() yields the audio as the provider produces it (stream mode plays the first chunk while
 * the rest is still being synthesised) and writes the same file when the synthesis completes.
 * Both share one synthesis per key; the file is renamed into place whole, or not at all. With
 * `admission: 'repeated'` a sentence only streamed is written the second time (tts-admission.ts).
 */

/**
 * Longest text accepted, in UTF-8 bytes. It is the strictest provider limit we support (OpenAI
 * takes 4096 characters, Google 5000 bytes), about four minutes of speech: longer text on a
 * phone line is a runaway prompt, and a verb should split sentences long before this.
 */
export const MAX_TEXT_BYTES = 4096
/** Bump when the file format or key recipe changes, so old files are never misread. */
const KEY_VERSION = 'v1'
/** A cache hit is streamed in pieces this long, so a consumer converting it starts on the first at once. */
const HIT_CHUNK_MS = 200

export interface SpeechCacheOptions {
  readonly provider: TtsProvider
  /** The sounds directory; files go in its `cache/` subfolder. */
  readonly soundsDir: string
  /** Bound on the total size of the cache files. */
  readonly maxBytes: number
  readonly logger: Logger
  /** 8000 (default, narrowband) or 16000 (wideband codecs). */
  readonly sampleRate?: 8000 | 16000
  /** Which sentences only streamed are written (default `all`; the config's default is `repeated`). */
  readonly admission?: CacheAdmission
}

export interface RenderOptions {
  readonly voice?: string | undefined
  readonly language?: string | undefined
  readonly signal?: AbortSignal | undefined
}

export interface StreamOptions extends RenderOptions {
  /**
   * The rate the consumer plays at. When it is the cache's rate, chunks come at that rate (the
   * conversion the cache file needs anyway, shared); otherwise at the provider's rate, so a
   * wideband consumer never gets audio that went through 8 kHz. A hit comes at the cache's rate.
   */
  readonly rate?: number | undefined
}

export interface RenderedSpeech {
  /** Absolute path of the WAV. */
  readonly path: string
  /** The same file relative to the sounds directory (`cache/<hash>.wav`), for a remote FreeSWITCH. */
  readonly file: string
  readonly durationMs: number
  /** True when the file already existed and nothing was synthesized. */
  readonly cached: boolean
}

/** Undefined: a sentence only streamed, not written (admission). */
type InFlight = Synthesis<RenderedSpeech | undefined>

export class SpeechCache {
  readonly #provider: TtsProvider
  readonly #dir: string
  readonly #files: CacheDirectory
  readonly #logger: Logger
  readonly #rate: 8000 | 16000
  readonly #inflight = new Map<string, InFlight>()
  /** Sentences streamed once, with `admission: 'repeated'`. */
  readonly #streamedOnce: SentenceMemory | undefined

  constructor (options: SpeechCacheOptions) {
    if (!(options.maxBytes > 0)) throw new PhoneAgentError('CONFIG_INVALID', 'speech cache: maxBytes must be positive')
    this.#provider = options.provider
    this.#dir = join(resolve(options.soundsDir), 'cache')
    this.#logger = options.logger
    this.#files = new CacheDirectory({
      dir: this.#dir,
      maxBytes: options.maxBytes,
      logger: options.logger,
      busy: (name) => this.#inflight.has(name.slice(0, -4)),
    })
    this.#rate = options.sampleRate ?? 8000
    this.#streamedOnce = options.admission === 'repeated' ? new SentenceMemory() : undefined
  }

  /** Bytes of cache files this process knows about. */
  get sizeBytes (): number {
    return this.#files.sizeBytes
  }

  /** The cache key (file name without `.wav`) for a request. */
  key (text: string, options: { voice?: string | undefined, language?: string | undefined } = {}): string {
    const clean = checkText(text)
    const voiceId = this.#provider.voiceId({ text: clean, voice: options.voice, language: options.language })
    return createHash('sha256')
      .update(JSON.stringify([KEY_VERSION, this.#provider.name, voiceId, options.language ?? '', this.#rate, clean]))
      .digest('hex')
      .slice(0, 40)
  }

  /** The WAV for `text`, synthesizing it unless it is already on disk. */
  async render (text: string, options: RenderOptions = {}): Promise<RenderedSpeech> {
    const key = this.key(text, options)
    const signal = options.signal
    throwIfAborted(signal)
    await this.#files.init()
    throwIfAborted(signal)
    const entry = this.#join(key, text, options)
    // FreeSWITCH plays the file: written whatever the admission.
    entry.needsFile = true
    const rendered = await this.#wait(key, entry, signal)
    if (rendered === undefined) throw new PhoneAgentError('TTS_FAILED', 'the speech was not written') // a render always is
    return rendered
  }

  /**
   * The audio for `text` as it becomes available: a hit at once (in pieces of 200 ms), a miss
   * chunk by chunk as the provider sends it (see StreamOptions.rate for the rate). The file is
   * written when the synthesis completes, also when this consumer has stopped reading by then.
   * Breaking out of the loop or aborting `signal` before the audio is complete detaches this
   * consumer; when it was the last, the synthesis is cancelled and nothing is written.
   * A provider failure after some chunks throws after them (the caller has played them).
   */
  stream (text: string, options: StreamOptions = {}): AsyncGenerator<PcmChunk, void, undefined> {
    // The generator itself, not one that delegates to it: every chunk of every sentence would
    // take the extra generator's hops on its way to the socket.
    return this.#stream(text, options, true)
  }

  /** The provider's connections opened ahead of a sentence (TtsProvider.preconnect). */
  preconnect (): void {
    this.#provider.preconnect?.()
  }

  /** Resolves when no synthesis or cache write is in progress (tests, shutdown). */
  async idle (): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight.values()].map(async (e) => await e.stored))
  }

  async * #stream (text: string, options: StreamOptions, retryVanished: boolean): AsyncGenerator<PcmChunk, void, undefined> {
    const key = this.key(text, options)
    const signal = options.signal
    throwIfAborted(signal)
    if (!this.#files.scanned) {
      await this.#files.init()
      throwIfAborted(signal)
    }
    const entry = this.#join(key, text, options)
    const atCacheRate = options.rate === this.#rate
    entry.waiters++
    let finished = false
    let vanished = false
    try {
      for (let i = 0; ;) {
        throwIfAborted(signal)
        if (atCacheRate) {
          const samples = entry.cacheChunks[i]
          if (samples !== undefined) { i++; yield { pcm: bytesOf(samples), sampleRate: this.#rate }; continue }
        } else {
          const chunk = entry.chunks[i]
          if (chunk !== undefined) { i++; yield chunk; continue }
        }
        if (entry.state === 'failed') throw entry.error
        if (entry.hit !== undefined) {
          const samples = await this.#readHit(entry.hit.path, signal)
          if (samples === undefined) { vanished = true; break }
          const step = Math.round(this.#rate * HIT_CHUNK_MS / 1000)
          for (let at = 0; at < samples.length; at += step) {
            yield { pcm: bytesOf(samples.subarray(at, at + step)), sampleRate: this.#rate }
            throwIfAborted(signal)
          }
          break
        }
        if (entry.state === 'complete') break
        await entry.changed(signal)
      }
      finished = true
    } finally {
      this.#leave(key, entry, finished ? undefined : signal?.aborted === true ? signal.reason : new PhoneAgentError('CALL_ABORTED', 'speech stream abandoned'))
    }
    if (vanished) {
      // Evicted or deleted (another process sharing the directory) between the check and the read.
      if (this.#inflight.get(key) === entry) this.#inflight.delete(key)
      this.#files.remove(`${key}.wav`)
      if (!retryVanished) throw new PhoneAgentError('TTS_FAILED', 'the speech cache file vanished twice')
      yield * this.#stream(text, options, false)
    }
  }

  /** The samples of a cache file at the cache's rate, or undefined when it is gone. */
  async #readHit (path: string, signal: AbortSignal | undefined): Promise<Int16Array | undefined> {
    let bytes: Buffer
    try {
      bytes = await readFile(path, signal === undefined ? {} : { signal })
    } catch (err) {
      if (signal?.aborted === true) throw abortReason(signal)
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new PhoneAgentError('TTS_FAILED', 'cannot read the speech cache file', { cause: err })
    }
    try {
      const audio = toMono(parseWav(bytes))
      if (audio.sampleRate !== this.#rate) throw new Error(`the file is at ${audio.sampleRate} Hz, not ${this.#rate}`)
      return audio.samples
    } catch (cause) {
      throw new PhoneAgentError('TTS_FAILED', 'unreadable speech cache file', { cause })
    }
  }

  /** The synthesis for `key`: the one in progress, or a new one. */
  #join (key: string, text: string, options: RenderOptions): InFlight {
    const running = this.#inflight.get(key)
    if (running !== undefined) return running
    const created: InFlight = new Synthesis<RenderedSpeech>()
    created.stored = this.#produce(key, checkText(text), options, created).finally(() => {
      if (this.#inflight.get(key) === created) this.#inflight.delete(key)
    })
    // Every waiter may have gone (all aborted); the rejection must not go unhandled.
    created.stored.catch(() => {})
    this.#inflight.set(key, created)
    return created
  }

  /**
   * A render or stream is done with `entry`; `abandoned` is the reason when it left before the
   * end. Identical requests share one synthesis; it stops only when nobody wants it any more
   * and its audio is not all here yet (complete audio is written to the cache whoever is left),
   * and a request arriving after that starts afresh instead of joining a dying one.
   */
  #leave (key: string, entry: InFlight, abandoned: unknown): void {
    entry.waiters--
    if (abandoned === undefined || entry.waiters > 0 || entry.state !== 'running') return
    if (this.#inflight.get(key) === entry) this.#inflight.delete(key)
    entry.controller.abort(abandoned)
  }

  #wait (key: string, entry: InFlight, signal: AbortSignal | undefined): Promise<RenderedSpeech | undefined> {
    entry.waiters++
    return new Promise<RenderedSpeech | undefined>((resolve, reject) => {
      let left = false
      const leave = (abandoned?: unknown): void => {
        if (left) return
        left = true
        signal?.removeEventListener('abort', onAbort)
        this.#leave(key, entry, abandoned)
      }
      const onAbort = (): void => {
        if (left || signal === undefined) return
        leave(signal.reason)
        reject(abortReason(signal))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      entry.stored.then((value) => {
        if (left) return
        leave()
        resolve(value)
      }, (err: unknown) => {
        if (left) return
        leave()
        reject(err)
      })
    })
  }

  async #produce (key: string, text: string, options: RenderOptions, entry: InFlight): Promise<RenderedSpeech | undefined> {
    const signal = entry.controller.signal
    const name = `${key}.wav`
    const path = join(this.#dir, name)
    const hit = (bytes: number): RenderedSpeech => {
      this.#logger.debug({ key }, 'speech cache hit')
      entry.found({ path, bytes })
      return { path, file: `cache/${name}`, durationMs: this.#durationMs(bytes), cached: true }
    }
    const started = Date.now()
    let synthesis: Promise<void>
    if (this.#files.has(name)) {
      // A file we know of is checked before it is served: retention or another process may
      // have deleted it (touch() then drops it from the index, and it is synthesised again).
      const existing = await this.#files.touch(name)
      if (existing !== undefined) return hit(existing)
      synthesis = this.#synthesize(text, options, entry)
    } else {
      // A name the index does not know is a miss but for a file another process sharing the
      // directory wrote since our scan: the provider is asked at once, and the disk is probed
      // alongside (a utimes() failing with ENOENT, ~1 ms, more under load, was on the critical
      // path of every new sentence). A file found before the first audio arrives is served
      // and the synthesis cancelled; later, the synthesis goes on and replaces it.
      // Complete as soon as the provider is done, not once the probe is too: a consumer leaving
      // in between (under load the probe can take a while) would otherwise find the synthesis
      // still running, cancel it, and the finished audio would never reach the cache.
      synthesis = this.#synthesize(text, options, entry).then(() => { entry.complete() })
      // Awaited below; a failure while the disk is probed must not count as unhandled.
      synthesis.catch(() => {})
      const existing = await this.#files.touch(name)
      if (existing !== undefined && entry.state === 'running' && !signal.aborted && entry.chunks.length === 0 && entry.cacheSamples === 0) {
        const result = hit(existing)
        entry.controller.abort(new PhoneAgentError('CALL_ABORTED', 'the speech was found on disk'))
        await synthesis.catch(() => {})
        return result
      }
    }
    try {
      await synthesis
    } catch (err) {
      entry.fail(err)
      throw err
    }
    if (!entry.needsFile && this.#streamedOnce?.again(key) === false) {
      // Out of the in-flight map before anything else runs: a render from now on synthesises
      // (and writes) afresh instead of joining what will never be a file.
      if (this.#inflight.get(key) === entry) this.#inflight.delete(key)
      entry.complete()
      this.#logger.debug({ key }, 'speech streamed once: not written')
      return undefined
    }
    const samples = concatInt16(entry.cacheChunks)
    entry.complete()
    const wav = encodeWav({ sampleRate: this.#rate, channels: 1, samples })
    const temp = join(this.#dir, `.${key}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`)
    try {
      await writeFile(temp, wav, { signal })
      throwIfAborted(signal)
      // rename() within one directory is atomic: FreeSWITCH never sees a half-written file.
      await rename(temp, path)
    } catch (err) {
      await unlink(temp).catch(() => {})
      if (signal.aborted) throw abortReason(signal)
      throw new PhoneAgentError('TTS_FAILED', 'cannot write the speech cache file', { cause: err })
    }
    this.#files.written(name, wav.length)
    this.#logger.debug({ key, bytes: wav.length, ms: Date.now() - started }, 'speech cache stored')
    await this.#files.evict(name)
    return { path, file: `cache/${name}`, durationMs: this.#durationMs(wav.length), cached: false }
  }

  /**
   * Run the provider into `entry`, converting to the cache's rate as chunks arrive (one
   * streaming resampler per run of equal-rate chunks: the filter sees no seams inside a run,
   * and the result equals resampling each run whole), so nothing heavy is left for the end.
   */
  async #synthesize (text: string, options: RenderOptions, entry: InFlight): Promise<void> {
    const signal = entry.controller.signal
    let resampler: StreamingResampler | undefined
    try {
      for await (const chunk of this.#provider.synthesize({ text, voice: options.voice, language: options.language }, { signal })) {
        throwIfAborted(signal)
        if (chunk.pcm.length === 0) continue
        const samples = samplesOf(chunk.pcm)
        if (resampler?.fromRate !== chunk.sampleRate) {
          if (resampler !== undefined) entry.push(undefined, resampler.flush())
          resampler = new StreamingResampler(chunk.sampleRate, this.#rate)
        }
        entry.push(chunk, resampler.push(samples))
      }
      throwIfAborted(signal)
    } catch (err) {
      if (signal.aborted) throw abortReason(signal)
      if (isPhoneAgentError(err)) throw err
      throw new PhoneAgentError('TTS_FAILED', `${this.#provider.name} synthesis failed`, { cause: err })
    }
    if (resampler !== undefined) entry.push(undefined, resampler.flush())
    if (entry.cacheSamples === 0) throw new PhoneAgentError('PROVIDER_BAD_RESPONSE', `${this.#provider.name} returned no audio`)
  }

  #durationMs (fileBytes: number): number {
    return Math.max(0, fileBytes - CANONICAL_HEADER_BYTES) / 2 * 1000 / this.#rate
  }
}

function checkText (text: string): string {
  const clean = text.trim()
  if (clean === '') throw new PhoneAgentError('PROVIDER_BAD_REQUEST', 'speech text is empty')
  const bytes = Buffer.byteLength(clean, 'utf8')
  if (bytes > MAX_TEXT_BYTES) throw new PhoneAgentError('PROVIDER_BAD_REQUEST', `speech text is ${bytes} bytes; the limit is ${MAX_TEXT_BYTES}`)
  return clean
}
