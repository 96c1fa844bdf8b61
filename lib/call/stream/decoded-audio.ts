import { readFile, stat } from 'node:fs/promises'
import { setImmediate as nextTask } from 'node:timers/promises'
import { PhoneAgentError, isPhoneAgentError } from '../../errors.ts'
import { monoFromBytes } from '../../media/pcm.ts'
import { StreamingResampler, resampledLength } from '../../media/resample-stream.ts'
import { parseWavLayout } from '../../media/wav.ts'

/**
 * Decoded sound files for stream mode, shared by every call: 500 callers hearing the same
 * 60 s prompt hold one copy of its samples (1.9 MB at 8 kHz), not 500, and the WAV is parsed
 * and resampled once instead of on the event loop at every call, and then ~100 ms of audio per
 * task (decode, downmix, resample), so a long prompt never holds the loop that paces every
 * call's frames for more than a millisecond or so. Bounded, least recently used
 * first; a file that changed on disk (same path, new mtime or size) is decoded again. The
 * arrays are never written to after decoding: the outbound queue only reads them.
 */
export class DecodedAudioCache {
  readonly #maxBytes: number
  readonly #entries = new Map<string, { samples: Int16Array, key: string }>()
  #bytes = 0

  /** The wait between slices (tests count the tasks). */
  readonly #yieldTask: () => Promise<unknown>

  constructor (maxBytes = 64 * 1024 * 1024, options: { yieldTask?: () => Promise<unknown> } = {}) {
    this.#maxBytes = maxBytes
    this.#yieldTask = options.yieldTask ?? nextTask
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
      samples = await this.#decode(await readFile(path), rate)
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

  /** toMono(parseWav(file)) resampled to `rate`, sample for sample, a slice per task. */
  async #decode (file: Buffer, rate: number): Promise<Int16Array> {
    const layout = parseWavLayout(file)
    if (layout.bitsPerSample !== 8 && layout.bitsPerSample !== 16) throw new PhoneAgentError('MEDIA_INVALID', `wav: unsupported ${layout.bitsPerSample}-bit samples (only 8 or 16)`)
    // As parseWav: a data size past the end (a streaming writer's placeholder) is clamped, and a
    // trailing partial frame dropped.
    const end = Math.min(layout.dataOffset + layout.declaredDataBytes, file.length)
    const data = file.subarray(layout.dataOffset, end)
    const frames = Math.floor(data.length / (layout.channels * layout.bitsPerSample / 8))
    const out = new Int16Array(resampledLength(frames, layout.sampleRate, rate))
    const resampler = layout.sampleRate === rate ? undefined : new StreamingResampler(layout.sampleRate, rate)
    const step = Math.max(1, Math.round(layout.sampleRate / 10))
    let filled = 0
    for (let at = 0; at < frames; at += step) {
      if (at > 0) await this.#yieldTask()
      const mono = monoFromBytes(data, layout.channels, layout.bitsPerSample, at, Math.min(frames, at + step))
      const part = resampler === undefined ? mono : resampler.push(mono)
      out.set(part, filled)
      filled += part.length
    }
    if (resampler !== undefined) out.set(resampler.flush(), filled)
    return out
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
