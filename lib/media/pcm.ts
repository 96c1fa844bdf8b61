import { endianness } from 'node:os'
import { PhoneAgentError } from '../errors.ts'
import type { PcmAudio } from './wav.ts'
import { resample } from './resample.ts'

/**
 * Small pure helpers over 16-bit PCM: conversions between the Buffer form providers yield
 * (`PcmChunk.pcm`, little-endian) and Int16Array, duration, downmix and level.
 */

/** Raw audio: signed 16-bit little-endian mono PCM, as providers yield it and the stream carries it. */
export interface PcmChunk {
  readonly pcm: Buffer
  readonly sampleRate: number
}

/**
 * s16le is an Int16Array's own memory layout on a little-endian host: the conversions below are
 * then one byte copy (a reply's 2 s at 24 kHz were 48,000 readInt16LE calls). A big-endian host
 * reads and writes sample by sample.
 */
const LITTLE_ENDIAN = endianness() === 'LE'

/** Little-endian s16 bytes -> samples, a new array (any byte offset: the bytes are copied). */
export function int16FromBytes (pcm: Buffer): Int16Array {
  if (pcm.length % 2 !== 0) throw new PhoneAgentError('MEDIA_INVALID', 'pcm: odd byte count for 16-bit samples')
  const out = new Int16Array(pcm.length / 2)
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(pcm)
    return out
  }
  for (let i = 0; i < out.length; i++) out[i] = pcm.readInt16LE(i * 2)
  return out
}

/** Samples -> little-endian s16 bytes, a new Buffer of its own. */
export function bytesFromInt16 (samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length * 2)
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength))
    return out
  }
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i] ?? 0, i * 2)
  return out
}

const silences = new Map<number, Int16Array>()

/**
 * `length` zero samples, one shared array per length: what the echo guard hands the VAD in place
 * of a frame it explains entirely by our own output (a fresh zero array per such frame was an
 * allocation for every echoed frame, issue 18). Shared, so it is read-only by contract: no reader
 * of a frame's samples (the VADs, the resamplers) writes into them.
 */
export function silentSamples (length: number): Int16Array {
  let zeros = silences.get(length)
  if (zeros === undefined) {
    zeros = new Int16Array(length)
    // Frame sizes are few (10-60 ms at 8-48 kHz); a caller asking for arbitrary lengths gets a
    // fresh array rather than growing the map without bound.
    if (silences.size >= 64) return zeros
    silences.set(length, zeros)
  }
  return zeros
}

export function durationMs (audio: PcmAudio): number {
  return (audio.samples.length / audio.channels) * 1000 / audio.sampleRate
}

/** Average the channels of each frame (rounded). Mono input is returned as is. */
export function toMono (audio: PcmAudio): PcmAudio {
  const { channels, samples } = audio
  if (channels === 1) return audio
  const frames = Math.floor(samples.length / channels)
  const out = new Int16Array(frames)
  for (let f = 0; f < frames; f++) {
    let sum = 0
    for (let c = 0; c < channels; c++) sum += samples[f * channels + c] ?? 0
    out[f] = Math.round(sum / channels)
  }
  return { sampleRate: audio.sampleRate, channels: 1, samples: out }
}

/**
 * Frames [from, to) of interleaved PCM bytes (16-bit little-endian, or 8-bit unsigned as WAV
 * stores it) as mono samples, averaged like toMono: decoding and downmixing a slice of a file
 * at a time gives exactly toMono(parseWav(file)) without holding the loop for the whole file.
 */
export function monoFromBytes (data: Buffer, channels: number, bitsPerSample: 8 | 16, from: number, to: number): Int16Array {
  const out = new Int16Array(Math.max(0, to - from))
  const bytes = bitsPerSample / 8
  for (let f = from; f < to; f++) {
    let sum = 0
    for (let c = 0; c < channels; c++) {
      const at = (f * channels + c) * bytes
      sum += bitsPerSample === 16 ? data.readInt16LE(at) : ((data[at] ?? 128) - 128) << 8
    }
    out[f - from] = channels === 1 ? sum : Math.round(sum / channels)
  }
  return out
}

/** Root mean square level relative to full scale (0 = silence, ~0.707 = full-scale sine). */
export function rms (samples: Int16Array): number {
  if (samples.length === 0) return 0
  let sum = 0
  for (let i = 0; i < samples.length; i++) {
    const v = (samples[i] ?? 0) / 32768
    sum += v * v
  }
  return Math.sqrt(sum / samples.length)
}

export function concatInt16 (parts: readonly Int16Array[]): Int16Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Int16Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** Mono at `sampleRate`: the form FreeSWITCH plays without transcoding (8 kHz narrowband, 16 kHz wideband). */
export function toMonoAt (audio: PcmAudio, sampleRate: number): PcmAudio {
  const mono = toMono(audio)
  if (mono.sampleRate === sampleRate) return mono
  return { sampleRate, channels: 1, samples: resample(mono.samples, mono.sampleRate, sampleRate) }
}
