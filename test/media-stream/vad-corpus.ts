/**
 * A small labelled set for the VAD, built in code at 8 kHz: real synthetic voices (flite, and
 * espeak-ng when installed) over line noise with DTMF in the pauses, and non-speech clips
 * (call-progress tones, DTMF, noise, coughs, clicks, a hold-music-like melody). Deterministic:
 * seeded noise, fixed texts. Used by test/media-stream/vad-corpus.spec.ts and bench/vad.ts.
 */
import pino from 'pino'
import { OfflineTts } from '../../lib/speech/tts/offline.ts'
import { detectEspeak } from '../../lib/speech/tts/offline-espeak.ts'
import { int16FromBytes } from '../../lib/media/pcm.ts'
import { resample } from '../../lib/media/resample.ts'
import type { VadEvent, VoiceDetector } from '../../lib/media/vad/vad.ts'
import * as s from './signals.ts'

export const RATE = 8000

export interface Clip {
  readonly name: string
  readonly samples: Int16Array
  /** Where speech is, in ms from the clip's start; empty for a non-speech clip. */
  readonly speech: ReadonlyArray<{ readonly start: number, readonly end: number }>
}

interface Utterance { readonly text: string, readonly voice: string, readonly language?: string }

// Texts a caller says: sentences, numbers, and the short answers and backchannels that matter
// most for barge-in ("yes", "uh-huh", "sì", "ja").
const FLITE: readonly Utterance[] = [
  { text: 'Hello, I would like to book a table for two people tomorrow evening.', voice: 'kal' },
  { text: 'Yes.', voice: 'slt' },
  { text: 'No, thank you.', voice: 'awb' },
  { text: 'Uh-huh.', voice: 'rms' },
  { text: 'My number is five five five, one two three four.', voice: 'slt' },
  { text: 'Could you call me back later this afternoon?', voice: 'rms' },
  { text: 'Okay.', voice: 'kal' },
  { text: 'I am calling about the invoice you sent last week.', voice: 'awb' },
]

const ESPEAK: readonly Utterance[] = [
  { text: 'Buongiorno, vorrei prenotare un tavolo per due persone.', voice: '', language: 'it' },
  { text: 'Sì.', voice: '', language: 'it' },
  { text: 'Guten Tag, ich möchte einen Tisch reservieren.', voice: '', language: 'de' },
  { text: 'Ja, genau.', voice: '', language: 'de' },
]

async function synthesize (tts: OfflineTts, u: Utterance): Promise<Int16Array> {
  const chunks: Int16Array[] = []
  let rate = RATE
  for await (const c of tts.synthesize({ text: u.text, voice: u.voice === '' ? undefined : u.voice, language: u.language ?? 'en' }, {})) {
    chunks.push(int16FromBytes(c.pcm))
    rate = c.sampleRate
  }
  return resample(s.concat(chunks), rate, RATE)
}

/** The voiced extent of a synthesised utterance: first and last 10 ms block within 35 dB of its peak. */
function trim (x: Int16Array): Int16Array {
  const block = RATE / 100
  const levels: number[] = []
  for (let i = 0; i + block <= x.length; i += block) {
    let ss = 0
    for (let k = i; k < i + block; k++) ss += (x[k] as number) ** 2
    levels.push(10 * Math.log10(ss / block + 1e-9))
  }
  const peak = Math.max(...levels)
  const first = levels.findIndex((l) => l > peak - 35)
  const last = levels.length - 1 - [...levels].reverse().findIndex((l) => l > peak - 35)
  return x.subarray(first * block, (last + 1) * block)
}

function atLevel (x: Int16Array, dbfs: number): Int16Array {
  let ss = 0
  for (const v of x) ss += v * v
  const k = s.dbfsToRms(dbfs) / Math.sqrt(ss / Math.max(1, x.length) || 1)
  return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v * k))))
}

const CONDITIONS = [
  { name: 'quiet line', level: -20, noise: (n: number, seed: number) => s.whiteNoise(RATE, n / RATE, -55, seed), dtmf: false },
  { name: 'line noise + DTMF', level: -24, noise: (n: number, seed: number) => s.mix(s.whiteNoise(RATE, n / RATE, -45, seed), s.pinkishNoise(RATE, n / RATE, -42, seed + 1)), dtmf: true },
  { name: 'soft voice, loud noise + DTMF', level: -32, noise: (n: number, seed: number) => s.mix(s.whiteNoise(RATE, n / RATE, -46, seed), s.pinkishNoise(RATE, n / RATE, -40, seed + 1)), dtmf: true },
] as const

/**
 * Speech clips: each utterance in each condition, 1 s lead-in, 1.5 s after. With DTMF, a key
 * press sits in the lead-in (ending 400 ms before the voice) and another after it.
 */
export async function speechClips (options: { espeak?: boolean } = {}): Promise<{ clips: Clip[], espeak: boolean }> {
  const logger = pino({ level: 'silent' })
  const espeak = options.espeak === false ? undefined : await detectEspeak()
  const tts = new OfflineTts({ logger, espeak })
  const clips: Clip[] = []
  try {
    const utterances = [...FLITE, ...(espeak === undefined ? [] : ESPEAK)]
    let seed = 100
    for (const u of utterances) {
      const voice = trim(await synthesize(tts, u))
      for (const c of CONDITIONS) {
        const lead = s.silence(RATE, 1)
        if (c.dtmf) lead.set(s.dtmf(RATE, '5', -12, 120, 0), RATE * 0.4)
        const tail = s.silence(RATE, 1.5)
        if (c.dtmf) tail.set(s.dtmf(RATE, '#', -12, 120, 0), RATE * 0.8)
        const clean = s.concat([lead, atLevel(voice, c.level), tail])
        const start = 1000
        const end = start + voice.length * 1000 / RATE
        clips.push({ name: `${u.language ?? 'en'} ${u.voice === '' ? 'espeak-ng' : `flite/${u.voice}`} "${u.text}" (${c.name})`, samples: s.mix(clean, c.noise(clean.length, seed++)), speech: [{ start, end }] })
      }
    }
  } finally {
    await tts.close()
  }
  return { clips, espeak: espeak !== undefined }
}

/** Hold-music-like audio: harmonic notes of a simple melody, 300 ms each. */
function melody (seconds: number, dbfs: number): Int16Array {
  const notes = [262, 294, 330, 349, 392, 440, 494, 523]
  const n = RATE * seconds
  const raw = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const t = i / RATE
    const f = notes[Math.floor(t / 0.3) * 5 % notes.length] as number
    for (let h = 1; h <= 5; h++) raw[i] = (raw[i] as number) + Math.sin(2 * Math.PI * f * h * t) / h
  }
  return atLevel(Int16Array.from(raw, (v) => Math.round(v * 8000)), dbfs)
}

/** Non-speech clips a caller's line carries: none may start speech. */
export function nonSpeechClips (): Clip[] {
  const q = s.silence(RATE, 1)
  const line = (x: Int16Array, seed = 9): Int16Array => s.mix(x, s.whiteNoise(RATE, x.length / RATE, -45, seed))
  const none = (name: string, samples: Int16Array): Clip => ({ name, samples, speech: [] })
  return [
    none('silence', s.silence(RATE, 5)),
    none('line noise -45 dBFS', s.whiteNoise(RATE, 8, -45, 21)),
    none('white noise -25 dBFS', s.whiteNoise(RATE, 8, -25, 22)),
    none('low-passed noise -30 dBFS', s.pinkishNoise(RATE, 8, -30, 23)),
    none('noise switching on', s.concat([q, s.pinkishNoise(RATE, 6, -25, 24)])),
    none('Italian ringback over noise', line(s.tones(RATE, 10, [425], -15, { on: 1, off: 4 }))),
    none('US ringback', s.tones(RATE, 12, [440, 480], -15, { on: 2, off: 4 })),
    none('UK ringback', s.tones(RATE, 6, [400, 450], -15, { on: 0.4, off: 0.2 })),
    none('US busy', s.tones(RATE, 6, [480, 620], -10, { on: 0.5, off: 0.5 })),
    none('DTMF burst over noise', line(s.dtmf(RATE, '1234567890*#1234567890*#', -10))),
    none('long DTMF presses', s.dtmf(RATE, '5555', -10, 400, 100)),
    none('coughs', line(s.concat([q, s.cough(RATE, 300, -15), q, s.cough(RATE, 400, -10, 5), q]))),
    none('clicks', s.clicks(RATE, 5, 100)),
    none('hold-music-like melody', line(melody(8, -22))),
  ]
}

export interface Score {
  readonly clips: number
  /** Speech segments never detected. */
  readonly misses: number
  /** speech-start events outside any speech segment (200 ms tolerance). */
  readonly falseStarts: number
  /** Extra starts inside one segment (an utterance cut in two). */
  readonly splits: number
  /** detectedAt - segment start, for each detected segment. */
  readonly startDelays: number[]
  /** detectedAt - segment end, for each segment whose end was detected. */
  readonly endDelays: number[]
  readonly failures: string[]
}

/**
 * Run clips through fresh detectors one frame at a time. `afterFrame` runs after each push
 * (the Silero runner's tick, so its probabilities arrive as they would live: a tick later).
 */
export async function score (clips: readonly Clip[], make: () => VoiceDetector, afterFrame: () => Promise<void> = async () => {}): Promise<Score> {
  let misses = 0
  let falseStarts = 0
  let splits = 0
  const startDelays: number[] = []
  const endDelays: number[] = []
  const failures: string[] = []
  for (const clip of clips) {
    const vad = make()
    const events: VadEvent[] = []
    const frames = s.frames(clip.samples, RATE)
    for (let i = 0; i < frames.length + 50; i++) {
      // 1 s of quiet after the clip lets a pending end be declared.
      const e = vad.push(frames[i] ?? new Int16Array(RATE / 50), i * 20)
      if (e !== undefined) events.push(e)
      await afterFrame()
    }
    vad.close()
    const starts = events.filter((e) => e.type === 'speech-start')
    for (const seg of clip.speech) {
      const inside = starts.filter((e) => e.at >= seg.start - 200 && e.at <= seg.end + 200)
      if (inside.length === 0) {
        misses++
        failures.push(`missed: ${clip.name}`)
        continue
      }
      splits += inside.length - 1
      startDelays.push((inside[0] as VadEvent).detectedAt - seg.start)
      const end = events.find((e) => e.type === 'speech-end' && e.endAt >= seg.start)
      if (end !== undefined) endDelays.push(end.detectedAt - seg.end)
    }
    for (const e of starts) {
      if (!clip.speech.some((seg) => e.at >= seg.start - 200 && e.at <= seg.end + 200)) {
        falseStarts++
        failures.push(`false start at ${e.at} ms: ${clip.name}`)
      }
    }
  }
  return { clips: clips.length, misses, falseStarts, splits, startDelays, endDelays, failures }
}

export function median (xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}
