import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Speaker } from '../../lib/call/context.ts'

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
      await writeFile(path, toneWav(durationMs))
      return { path, durationMs, cached: false }
    },
  }
  return speaker
}

export function toneWav (durationMs: number, rate = 8000, hz = 440, amplitude = 8000): Buffer {
  const samples = Math.round(rate * durationMs / 1000)
  const wav = Buffer.alloc(44 + samples * 2)
  wav.write('RIFF', 0, 'ascii'); wav.writeUInt32LE(36 + samples * 2, 4); wav.write('WAVE', 8, 'ascii')
  wav.write('fmt ', 12, 'ascii'); wav.writeUInt32LE(16, 16); wav.writeUInt16LE(1, 20); wav.writeUInt16LE(1, 22)
  wav.writeUInt32LE(rate, 24); wav.writeUInt32LE(rate * 2, 28); wav.writeUInt16LE(2, 32); wav.writeUInt16LE(16, 34)
  wav.write('data', 36, 'ascii'); wav.writeUInt32LE(samples * 2, 40)
  for (let i = 0; i < samples; i++) wav.writeInt16LE(Math.round(amplitude * Math.sin(2 * Math.PI * hz * i / rate)), 44 + i * 2)
  return wav
}
