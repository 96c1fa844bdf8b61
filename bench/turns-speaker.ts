import { createHash } from 'node:crypto'
import { mkdir, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Speaker } from '../lib/call/context.ts'
import { encodeWav } from '../lib/media/wav.ts'
import { LATENCY } from './turns-protocol.ts'

/** TTS audio length per character (~15 characters a second, like a real voice). */
const MS_PER_CHAR = 66

/**
 * One second of a 300 Hz tone (a whole number of periods, so it repeats seamlessly), copied
 * rather than computed per render: the stub runs in the server's process at hundreds of
 * renders a second, and its own cost should stay small next to the server's.
 */
const TONE = Int16Array.from({ length: 8000 }, (_, i) => Math.round(6000 * Math.sin(2 * Math.PI * 300 * i / 8000)))

export interface SpeakerStats { renders: number }

/** A TTS stand-in: a fixed synthesis delay, then a tone as long as the text would take to say. */
export function benchSpeaker (soundsDir: string, stats: SpeakerStats): Speaker {
  return {
    async render (text, options) {
      const path = join(soundsDir, 'cache', `${createHash('sha1').update(text).digest('hex')}.wav`)
      // A cache, like the real one: a phrase rendered once (greetings at start-up) costs nothing.
      const hit = await stat(path).then((st) => st.size, () => 0)
      if (hit > 44) return { path, durationMs: (hit - 44) / 16, cached: true }
      stats.renders++
      await sleep(LATENCY.ttsMs, undefined, { signal: options.signal })
      const samples = new Int16Array(Math.round(8 * Math.max(200, text.length * MS_PER_CHAR)))
      for (let i = 0; i < samples.length; i += TONE.length) samples.set(TONE.subarray(0, samples.length - i), i)
      const tmp = `${path}.${Math.random().toString(36).slice(2)}.tmp`
      await mkdir(join(soundsDir, 'cache'), { recursive: true })
      await writeFile(tmp, encodeWav({ sampleRate: 8000, channels: 1, samples }))
      await rename(tmp, path)
      return { path, durationMs: samples.length / 8, cached: false }
    },
  }
}
