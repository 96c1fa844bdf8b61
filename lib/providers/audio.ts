import { isPhoneAgentError } from '../errors.ts'
import { bytesFromInt16, int16FromBytes, toMono } from '../media/pcm.ts'
import { encodeWav, parseWav } from '../media/wav.ts'
import type { PcmChunk } from '../media/pcm.ts'
import { badResponse, type ErrorContext } from './errors.ts'

/** WAV bytes from a vendor -> mono PCM; a file we cannot read is the vendor's fault, not media's. */
export function pcmFromVendorWav (wav: Buffer, ctx: ErrorContext): PcmChunk {
  try {
    const audio = toMono(parseWav(wav))
    return { pcm: bytesFromInt16(audio.samples), sampleRate: audio.sampleRate }
  } catch (err) {
    if (isPhoneAgentError(err, 'MEDIA_INVALID')) throw badResponse(ctx, `unreadable audio (${err.message})`)
    throw err
  }
}

/** PCM -> a WAV file for upload (transcription endpoints want a container, not raw samples). */
export function wavFromPcm (audio: PcmChunk): Buffer {
  return encodeWav({ sampleRate: audio.sampleRate, channels: 1, samples: int16FromBytes(audio.pcm) })
}

export function pcmDurationMs (audio: PcmChunk): number {
  return Math.round(audio.pcm.length / 2 / audio.sampleRate * 1000)
}
