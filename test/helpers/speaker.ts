import { createHash } from 'node:crypto'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Speaker } from '../../lib/call/context.ts'
import { encodeWav } from '../../lib/media/wav.ts'

/**
 * A fast stand-in for TTS in tests that are not about speech: each text becomes a WAV of a
 * tone lasting `msPerChar` per character (so longer text plays longer), written where the real
 * cache would write it. Records every request.
 */
export function toneSpeaker (soundsDir: string, msPerChar = 2): Speaker & { requests: Array<{ text: string, language?: string | undefined }>, fail?: Error } {
  const requests: Array<{ text: string, language?: string | undefined }> = []
  const speaker = {
    requests,
    fail: undefined as Error | undefined,
    async render (text: string, options: { language?: string | undefined, signal?: AbortSignal | undefined }) {
      requests.push({ text, language: options.language })
      if (speaker.fail) throw speaker.fail
      const durationMs = Math.max(40, text.length * msPerChar)
      const path = join(soundsDir, 'cache', `${createHash('sha1').update(text).digest('hex')}.wav`)
      await mkdir(join(soundsDir, 'cache'), { recursive: true })
      // Atomic, like the real cache: a render-ahead of the same text must never expose a half-written file.
      const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
      await writeFile(tmp, toneWav(durationMs))
      await rename(tmp, path)
      return { path, durationMs, cached: false }
    },
  }
  return speaker
}

export function toneWav (durationMs: number, rate = 8000, hz = 440, amplitude = 8000): Buffer {
  const samples = new Int16Array(Math.round(rate * durationMs / 1000))
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(amplitude * Math.sin(2 * Math.PI * hz * i / rate))
  return encodeWav({ sampleRate: rate, channels: 1, samples })
}
