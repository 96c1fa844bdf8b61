import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Speaker } from '../lib/call/context.ts'
import { encodeWav } from '../lib/media/wav.ts'

/**
 * The capacity bench's temporary world: a sounds directory holding the long prompt every call
 * plays, and the config file the server child loads. Removed by `cleanup()`.
 */

export const BENCH_DID = '+390212345678'
export const BENCH_FILE = 'bench.wav'
const SCRIPT = fileURLToPath(new URL('./capacity-script.ts', import.meta.url))

export interface CapacityFixture {
  readonly dir: string
  readonly soundsDir: string
  readonly configPath: string
  /** The server child's pino log (warnings and errors only). */
  readonly logPath: string
  readonly audioBytes: number
  cleanup (): Promise<void>
}

export async function createFixture (audioSeconds: number): Promise<CapacityFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-capacity-'))
  try {
    const soundsDir = join(dir, 'sounds')
    await mkdir(soundsDir, { recursive: true })
    const samples = speechLike(8000, audioSeconds)
    await writeFile(join(soundsDir, BENCH_FILE), encodeWav({ sampleRate: 8000, channels: 1, samples }))
    const configPath = join(dir, 'phone-agent.json')
    await writeFile(configPath, JSON.stringify(benchConfig(soundsDir, dir), null, 2))
    return {
      dir,
      soundsDir,
      configPath,
      logPath: join(dir, 'server.log'),
      audioBytes: samples.byteLength,
      cleanup: async () => { await rm(dir, { recursive: true, force: true }) },
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

/**
 * The real config schema with admission opened up: every other guard default (3 calls per
 * caller a minute, 5 new calls a second, 4 at once) would refuse the ramp, not measure it.
 */
function benchConfig (soundsDir: string, dir: string): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    media: { mode: 'stream', soundsDir },
    routes: { [BENCH_DID]: { script: 'capacity', options: { file: BENCH_FILE } } },
    scripts: { capacity: { module: SCRIPT } },
    guard: {
      callers: { allowPrefixes: ['+39'] },
      // Every simulated call comes from one source address: its per-minute limit (10) would refuse the ramp too.
      rates: { perCallerPerMinute: 1_000_000, perCallerPerHour: 1_000_000, perSourceIpPerMinute: 1_000_000, globalPerSecond: 100_000 },
      capacity: { maxConcurrent: 2000, whenFull: 'user-busy' },
    },
    records: { dataDir: join(dir, 'data') },
    ops: { http: { enabled: false } },
    logging: { level: 'warn' },
  }
}

/**
 * Stands in for TTS (only the apology and busy prompts are rendered, at start-up): a short
 * tone written where the cache would put it. Copied from test/helpers/speaker.ts in spirit so
 * the bench does not import test code.
 */
export function toneSpeaker (soundsDir: string): Speaker {
  return {
    async render (text) {
      const durationMs = Math.max(40, text.length * 2)
      const path = join(soundsDir, 'cache', `${createHash('sha1').update(text).digest('hex')}.wav`)
      await mkdir(join(soundsDir, 'cache'), { recursive: true })
      const tmp = `${path}.${process.pid}.tmp`
      const samples = new Int16Array(durationMs * 8)
      for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / 8000))
      await writeFile(tmp, encodeWav({ sampleRate: 8000, channels: 1, samples }))
      await rename(tmp, path)
      return { path, durationMs, cached: false }
    },
  }
}

/**
 * Deterministic speech-like audio: a voiced source (a gliding pitch with harmonics) plus some
 * noise, shaped into ~4 syllables a second with a pause every couple of seconds. Its content
 * does not matter to the server (it only paces frames); it keeps the frames non-silent so the
 * caller side hears "speech", as a real prompt would be.
 */
export function speechLike (rate: number, seconds: number): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds))
  let seed = 0x2545f491
  const rand = (): number => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 4294967296 }
  let phase = 0
  for (let i = 0; i < out.length; i++) {
    const t = i / rate
    const pitch = 120 + 30 * Math.sin(2 * Math.PI * 0.7 * t)
    phase += 2 * Math.PI * pitch / rate
    const voiced = Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.25 * Math.sin(3 * phase)
    const syllable = Math.max(0, Math.sin(2 * Math.PI * 4 * t))
    const pause = (t % 2.5) > 2.1 ? 0 : 1
    out[i] = Math.round(4000 * pause * syllable * (voiced + 0.2 * (rand() - 0.5)))
  }
  return out
}
