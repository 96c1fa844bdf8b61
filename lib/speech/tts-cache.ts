import { createHash, randomUUID } from 'node:crypto'
import { mkdir, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Logger } from 'pino'
import { PhoneAgentError, abortReason, isPhoneAgentError, throwIfAborted } from '../errors.ts'
import type { PcmChunk, TtsProvider } from './types.ts'
import { CANONICAL_HEADER_BYTES, encodeWav } from '../media/wav.ts'
import { concatInt16, int16FromBytes } from '../media/pcm.ts'
import { resample } from '../media/resample.ts'

/**
 * Speech rendered to WAV files FreeSWITCH can `playback`, cached in `<soundsDir>/cache/`.
 *
 * File names are a hash of everything that changes the audio (provider, voice, language, rate,
 * text), so caller-controlled text never becomes part of a path, and a file on disk is reused
 * across restarts. The directory is bounded by size; the least recently used files go first
 * (a hit touches the file's mtime, which is what the start-up scan orders by).
 */

/**
 * Longest text accepted, in UTF-8 bytes. It is the strictest provider limit we support (OpenAI
 * takes 4096 characters, Google 5000 bytes), about four minutes of speech: longer text on a
 * phone line is a runaway prompt, and a verb should split sentences long before this.
 */
export const MAX_TEXT_BYTES = 4096
/** Bump when the file format or key recipe changes, so old files are never misread. */
const KEY_VERSION = 'v1'
const NAME = /^([0-9a-f]{40})\.wav$/
/** A temp file this old belongs to a process that died mid-write. */
const STALE_TEMP_MS = 60 * 60 * 1000

export interface SpeechCacheOptions {
  readonly provider: TtsProvider
  /** The sounds directory; files go in its `cache/` subfolder. */
  readonly soundsDir: string
  /** Bound on the total size of the cache files. */
  readonly maxBytes: number
  readonly logger: Logger
  /** 8000 (default, narrowband) or 16000 (wideband codecs). */
  readonly sampleRate?: 8000 | 16000
}

export interface RenderOptions {
  readonly voice?: string | undefined
  readonly language?: string | undefined
  readonly signal?: AbortSignal | undefined
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

interface InFlight {
  readonly promise: Promise<RenderedSpeech>
  readonly controller: AbortController
  waiters: number
}

export class SpeechCache {
  readonly #provider: TtsProvider
  readonly #dir: string
  readonly #soundsDir: string
  readonly #maxBytes: number
  readonly #logger: Logger
  readonly #rate: 8000 | 16000
  /** name -> size; Map order is least recently used first. */
  readonly #index = new Map<string, number>()
  readonly #inflight = new Map<string, InFlight>()
  #total = 0
  #ready: Promise<void> | undefined

  constructor (options: SpeechCacheOptions) {
    if (!(options.maxBytes > 0)) throw new PhoneAgentError('CONFIG_INVALID', 'speech cache: maxBytes must be positive')
    this.#provider = options.provider
    this.#soundsDir = resolve(options.soundsDir)
    this.#dir = join(this.#soundsDir, 'cache')
    this.#maxBytes = options.maxBytes
    this.#logger = options.logger
    this.#rate = options.sampleRate ?? 8000
  }

  /** Bytes of cache files this process knows about. */
  get sizeBytes (): number {
    return this.#total
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
    await this.#init()
    throwIfAborted(signal)
    let entry = this.#inflight.get(key)
    if (entry === undefined) {
      const controller = new AbortController()
      const created: InFlight = {
        controller,
        waiters: 0,
        promise: this.#produce(key, checkText(text), options, controller.signal).finally(() => {
          if (this.#inflight.get(key) === created) this.#inflight.delete(key)
        }),
      }
      // Every waiter may have gone (all aborted); the rejection must not go unhandled.
      created.promise.catch(() => {})
      this.#inflight.set(key, created)
      entry = created
    }
    return await this.#wait(key, entry, signal)
  }

  #wait (key: string, entry: InFlight, signal: AbortSignal | undefined): Promise<RenderedSpeech> {
    entry.waiters++
    return new Promise<RenderedSpeech>((resolve, reject) => {
      let left = false
      const leave = (): void => {
        if (left) return
        left = true
        signal?.removeEventListener('abort', onAbort)
        entry.waiters--
      }
      const onAbort = (): void => {
        if (left || signal === undefined) return
        leave()
        // Identical requests share one synthesis; it stops only when nobody is waiting for it,
        // and a request arriving after that starts afresh instead of joining a dying one.
        if (entry.waiters === 0) {
          if (this.#inflight.get(key) === entry) this.#inflight.delete(key)
          entry.controller.abort(signal.reason)
        }
        reject(abortReason(signal))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      entry.promise.then((value) => {
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

  async #produce (key: string, text: string, options: RenderOptions, signal: AbortSignal): Promise<RenderedSpeech> {
    const name = `${key}.wav`
    const path = join(this.#dir, name)
    const existing = await this.#touch(name)
    if (existing !== undefined) {
      this.#logger.debug({ key }, 'speech cache hit')
      return { path, file: `cache/${name}`, durationMs: this.#durationMs(existing), cached: true }
    }
    const started = Date.now()
    const samples = await this.#synthesize(text, options, signal)
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
    this.#add(name, wav.length)
    this.#logger.debug({ key, bytes: wav.length, ms: Date.now() - started }, 'speech cache stored')
    await this.#evict(name)
    return { path, file: `cache/${name}`, durationMs: this.#durationMs(wav.length), cached: false }
  }

  async #synthesize (text: string, options: RenderOptions, signal: AbortSignal): Promise<Int16Array> {
    const chunks: PcmChunk[] = []
    try {
      for await (const chunk of this.#provider.synthesize({ text, voice: options.voice, language: options.language }, { signal })) {
        throwIfAborted(signal)
        chunks.push(chunk)
      }
    } catch (err) {
      if (signal.aborted) throw abortReason(signal)
      if (isPhoneAgentError(err)) throw err
      throw new PhoneAgentError('TTS_FAILED', `${this.#provider.name} synthesis failed`, { cause: err })
    }
    throwIfAborted(signal)
    const parts: Int16Array[] = []
    // Resample each run of equal-rate chunks as one signal, so the filter sees no seams inside it.
    let run: PcmChunk[] = []
    const flush = (): void => {
      const first = run[0]
      if (first === undefined) return
      const pcm = int16FromBytes(Buffer.concat(run.map((c) => c.pcm)))
      parts.push(first.sampleRate === this.#rate ? pcm : resample(pcm, first.sampleRate, this.#rate))
      run = []
    }
    for (const chunk of chunks) {
      if (run[0] !== undefined && run[0].sampleRate !== chunk.sampleRate) flush()
      run.push(chunk)
    }
    flush()
    const samples = concatInt16(parts)
    if (samples.length === 0) throw new PhoneAgentError('PROVIDER_BAD_RESPONSE', `${this.#provider.name} returned no audio`)
    return samples
  }

  /** Size of `name` when it exists (and mark it used), else undefined. */
  async #touch (name: string): Promise<number | undefined> {
    const known = this.#index.get(name)
    if (known !== undefined) {
      // Most recent before the first await, so a concurrent eviction passes it over.
      this.#index.delete(name)
      this.#index.set(name, known)
    }
    const path = join(this.#dir, name)
    const now = new Date()
    try {
      await utimes(path, now, now)
      if (known !== undefined) return known
      // Written by another process sharing the directory since our scan.
      const { size } = await stat(path)
      this.#add(name, size)
      return size
    } catch {
      if (known !== undefined) this.#remove(name)
      return undefined
    }
  }

  #add (name: string, size: number): void {
    const old = this.#index.get(name)
    if (old !== undefined) this.#total -= old
    this.#index.delete(name)
    this.#index.set(name, size)
    this.#total += size
  }

  #remove (name: string): void {
    const size = this.#index.get(name)
    if (size === undefined) return
    this.#index.delete(name)
    this.#total -= size
  }

  /**
   * Drop least recently used files until under the bound; `keep` (just written) stays even if
   * alone over it. Resolves once the files are gone, so the directory and `sizeBytes` agree.
   */
  async #evict (keep?: string): Promise<void> {
    if (this.#total <= this.#maxBytes) return
    const victims: string[] = []
    let total = this.#total
    for (const [name, size] of this.#index) {
      if (total <= this.#maxBytes) break
      if (name === keep || this.#inflight.has(name.slice(0, -4))) continue
      victims.push(name)
      total -= size
    }
    // Out of the index before the first await, so concurrent renders never pick them again.
    for (const name of victims) this.#remove(name)
    await Promise.all(victims.map(async (name) => {
      try {
        // FreeSWITCH playing the file keeps its open descriptor: unlinking does not cut a prompt off.
        await unlink(join(this.#dir, name))
      } catch (err) {
        this.#logger.warn({ err, file: name }, 'speech cache could not delete a file')
      }
    }))
    if (victims.length > 0) this.#logger.debug({ files: victims.length, bytes: this.#total }, 'speech cache evicted')
  }

  #durationMs (fileBytes: number): number {
    return Math.max(0, fileBytes - CANONICAL_HEADER_BYTES) / 2 * 1000 / this.#rate
  }

  #init (): Promise<void> {
    this.#ready ??= this.#scan()
    return this.#ready
  }

  async #scan (): Promise<void> {
    try {
      await mkdir(this.#dir, { recursive: true })
      const found: Array<{ name: string, size: number, mtimeMs: number }> = []
      for (const name of await readdir(this.#dir)) {
        const isTemp = name.startsWith('.') && name.endsWith('.tmp')
        if (!isTemp && !NAME.test(name)) continue
        const info = await stat(join(this.#dir, name)).catch(() => undefined)
        if (info === undefined || !info.isFile()) continue
        if (isTemp) {
          if (Date.now() - info.mtimeMs > STALE_TEMP_MS) await unlink(join(this.#dir, name)).catch(() => {})
        } else if (info.size < CANONICAL_HEADER_BYTES) {
          await unlink(join(this.#dir, name)).catch(() => {})
        } else {
          found.push({ name, size: info.size, mtimeMs: info.mtimeMs })
        }
      }
      found.sort((a, b) => a.mtimeMs - b.mtimeMs)
      for (const f of found) this.#add(f.name, f.size)
    } catch (cause) {
      this.#ready = undefined
      throw new PhoneAgentError('MEDIA_INVALID', 'cannot use the speech cache directory', { cause })
    }
    this.#logger.debug({ files: this.#index.size, bytes: this.#total }, 'speech cache scanned')
    await this.#evict()
  }
}

function checkText (text: string): string {
  const clean = text.trim()
  if (clean === '') throw new PhoneAgentError('PROVIDER_BAD_REQUEST', 'speech text is empty')
  const bytes = Buffer.byteLength(clean, 'utf8')
  if (bytes > MAX_TEXT_BYTES) throw new PhoneAgentError('PROVIDER_BAD_REQUEST', `speech text is ${bytes} bytes; the limit is ${MAX_TEXT_BYTES}`)
  return clean
}
