import { writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { encodeWav } from './wav.ts'

/**
 * The tone before a recording ("leave a message after the tone"), made from a formula so there
 * is no recording and no licence to track: 1 kHz for 400 ms at -10 dBFS, 8 kHz mono 16-bit
 * (what FreeSWITCH plays on a narrowband call without transcoding), with 10 ms raised-cosine
 * edges so it starts and stops without a click. `sounds/beep.wav` is this, byte for byte
 * (`npm run sounds` writes it; a test compares).
 */
export const BEEP = { frequencyHz: 1000, durationMs: 400, levelDbfs: -10, rampMs: 10, sampleRate: 8000 } as const

export function beepWav (): Buffer {
  const { frequencyHz, durationMs, levelDbfs, rampMs, sampleRate } = BEEP
  const n = Math.round(sampleRate * durationMs / 1000)
  const ramp = Math.round(sampleRate * rampMs / 1000)
  const amplitude = 32767 * 10 ** (levelDbfs / 20)
  const samples = new Int16Array(n)
  for (let i = 0; i < n; i++) {
    const edge = Math.min(i, n - 1 - i)
    const gain = edge >= ramp ? 1 : 0.5 - 0.5 * Math.cos(Math.PI * edge / ramp)
    samples[i] = Math.round(amplitude * gain * Math.sin(2 * Math.PI * frequencyHz * i / sampleRate))
  }
  return encodeWav({ sampleRate, channels: 1, samples })
}

/** The shipped file. */
export const BEEP_FILE = fileURLToPath(new URL('../../sounds/beep.wav', import.meta.url))

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeFile(BEEP_FILE, beepWav())
  process.stdout.write(`wrote ${BEEP_FILE}\n`)
}
