import { endianness } from 'node:os'
import { bytesFromInt16, int16FromBytes } from '../media/pcm.ts'

/**
 * Buffer <-> Int16Array for audio on its way to the caller, without a per-sample loop: provider
 * chunks are s16le, which on a little-endian host is the Int16Array's own memory layout. The
 * sample-by-sample helpers in media/pcm.ts remain the fallback (odd offsets, big-endian hosts).
 */

const LITTLE_ENDIAN = endianness() === 'LE'

/** The samples of s16le bytes, as a new array the caller owns. Odd lengths are MEDIA_INVALID. */
export function samplesOf (pcm: Buffer): Int16Array {
  if (!LITTLE_ENDIAN || pcm.length % 2 !== 0) return int16FromBytes(pcm)
  const out = new Int16Array(pcm.length / 2)
  new Uint8Array(out.buffer).set(pcm)
  return out
}

/** s16le bytes over the same memory (a view on little-endian hosts): do not mutate either side. */
export function bytesOf (samples: Int16Array): Buffer {
  if (!LITTLE_ENDIAN) return bytesFromInt16(samples)
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)
}
