import { readFile, stat } from 'node:fs/promises'
import { PhoneAgentError, isPhoneAgentError } from '../../errors.ts'
import { toMono } from '../../media/pcm.ts'
import { resample } from '../../media/resample.ts'
import { parseWav } from '../../media/wav.ts'

/**
 * Decoded sound files for stream mode, shared by every call: 500 callers hearing the same
 * 60 s prompt hold one copy of its samples (1.9 MB at 8 kHz), not 500, and the WAV is parsed
 * and resampled once instead of on the event loop at every call. Bounded, least recently used
 * first; a file that changed on disk (same path, new mtime or size) is decoded again. The
 * arrays are never written to after decoding: the outbound queue only reads them.
 */
export class DecodedAudioCache {
  readonly #maxBytes: number
  readonly #entries = new Map<string, { samples: Int16Array, key: string }>()
  #bytes = 0

  constructor (maxBytes = 64 * 1024 * 1024) {
    this.#maxBytes = maxBytes
  }

  async get (path: string, rate: number): Promise<Int16Array> {
    let info
    try {
      info = await stat(path)
    } catch (err) {
      throw new PhoneAgentError('MEDIA_INVALID', 'sound file not found or unreadable', { cause: err })
    }
    const key = `${info.mtimeMs}:${info.size}`
    const id = `${rate}:${path}`
    const hit = this.#entries.get(id)
    if (hit !== undefined && hit.key === key) {
      this.#entries.delete(id)
      this.#entries.set(id, hit)
      return hit.samples
    }
    let samples: Int16Array
    try {
      const audio = parseWav(await readFile(path))
      const mono = toMono(audio).samples
      samples = audio.sampleRate === rate ? mono : resample(mono, audio.sampleRate, rate)
    } catch (err) {
      if (isPhoneAgentError(err)) throw err
      throw new PhoneAgentError('MEDIA_INVALID', 'sound file not found or unreadable', { cause: err })
    }
    if (hit !== undefined) this.#drop(id)
    if (samples.byteLength <= this.#maxBytes) {
      this.#entries.set(id, { samples, key })
      this.#bytes += samples.byteLength
      for (const [old] of this.#entries) {
        if (this.#bytes <= this.#maxBytes) break
        this.#drop(old)
      }
    }
    return samples
  }

  #drop (id: string): void {
    const e = this.#entries.get(id)
    if (e === undefined) return
    this.#entries.delete(id)
    this.#bytes -= e.samples.byteLength
  }
}

/** One per process: sound files are the same files for every call. */
export const decodedAudio = new DecodedAudioCache()
