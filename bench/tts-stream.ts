/**
 * `node --import tsx bench/tts-stream.ts`: time from asking for a sentence to its first samples
 * at the stream rate, streamed (SpeechCache.stream + streamSentence) against waiting for the
 * whole sentence (render, read the file, resample it whole, the path before issue 14), for a
 * short and a long first sentence and for a cached one; and what the streaming resampler costs
 * per 20 ms chunk. Writes its section of BENCHMARKS.md (between the tts-streaming markers) and
 * exports the pieces for bench/run.ts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { resample } from '../lib/media/resample.ts'
import { StreamingResampler } from '../lib/media/resample-stream.ts'
import { parseWav } from '../lib/media/wav.ts'
import { createOpenAiClient } from '../lib/providers/openai-client.ts'
import { ProviderQueue } from '../lib/providers/queue.ts'
import { streamSentence, type PcmSpeaker } from '../lib/speech/stream-pcm.ts'
import { SpeechCache } from '../lib/speech/tts-cache.ts'
import { OpenAiTts } from '../lib/speech/tts/openai.ts'
import { FakeOpenAiServer } from '../test/fakes/openai-server.ts'
import { percentile } from './stats.ts'
import { spliceSection } from './sections.ts'

/** The provider fake: fixed latency to the first byte, then 24 kHz PCM faster than real time. */
export const TTS_FAKE = {
  latencyMs: 100,
  rate: 24000,
  /** Audio per character, as a real voice speaks (~15 characters a second). */
  msPerChar: 66,
  /** 20 ms of audio every 5 ms: four times real time, as hosted TTS streams. */
  pieceMs: 20,
  pieceEveryMs: 5,
} as const

const SHORT = 'Certainly.' // 10 characters
const LONG = 'Certainly, I can book that table for four people at eight.' // 60 characters

export interface Dist { readonly p50: number, readonly p99: number, readonly n: number }
export interface FirstAudioRow { readonly path: string, readonly rate: number, readonly short: Dist, readonly long: Dist }
export interface ResamplerRow { readonly from: number, readonly to: number, readonly usPerChunk: number, readonly wholeSentenceMs: number }
export interface TtsStreamResult {
  readonly rows: readonly FirstAudioRow[]
  readonly cached: readonly { readonly rate: number, readonly dist: Dist }[]
  readonly resampler: readonly ResamplerRow[]
  /** Long minus short, p50, streamed at 8 kHz: the goal is <= 20 ms. */
  readonly lengthPenaltyMs: number
}

const dist = (values: readonly number[]): Dist => ({ p50: percentile(values, 50), p99: percentile(values, 99), n: values.length })

function speech (chars: number, seed: number): Buffer {
  const samples = Math.round(TTS_FAKE.rate * chars * TTS_FAKE.msPerChar / 1000)
  const out = Buffer.alloc(samples * 2)
  for (let i = 0; i < samples; i++) out.writeInt16LE(Math.round(7000 * Math.sin(i * 0.021 * seed) + 3000 * Math.sin(i * 0.37)), i * 2)
  return out
}

export async function runTtsStreamBench (options: { log?: (line: string) => void, iterations?: number } = {}): Promise<TtsStreamResult> {
  const log = options.log ?? (() => {})
  const n = options.iterations ?? 20
  const fake = await FakeOpenAiServer.start()
  const dir = await mkdtemp(join(tmpdir(), 'bench-tts-'))
  try {
    const tts = new OpenAiTts({
      client: createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'bench' }),
      name: 'openai', model: 'gpt-4o-mini-tts', voice: 'alloy', format: 'pcm', sampleRate: TTS_FAKE.rate,
      queue: new ProviderQueue('tts', 4), retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }, timeoutMs: 20_000,
    })
    const logger = pino({ level: 'silent' }, new Writable({ write (_c, _e, cb) { cb() } }))
    const cache = new SpeechCache({ provider: tts, soundsDir: dir, maxBytes: 512 * 1024 * 1024, logger })
    const speaker: PcmSpeaker = { render: async (t, o) => await cache.render(t, o), stream: (t, o) => cache.stream(t, o) }
    const audio = { short: speech(SHORT.length, 1), long: speech(LONG.length, 2) }
    const script = (body: Buffer): void => {
      fake.reply('/v1/audio/speech', {
        kind: 'bytes', body, contentType: 'audio/pcm', firstDelayMs: TTS_FAKE.latencyMs,
        chunkSize: TTS_FAKE.rate * 2 * TTS_FAKE.pieceMs / 1000, delayMs: TTS_FAKE.pieceEveryMs,
      })
    }
    let unique = 0
    // Every measured sentence is a miss (a voice name of its own makes a new cache key; the fake
    // ignores it), except in the cached rows.
    const fresh = (): { voice: string } => ({ voice: `bench${++unique}` })

    const streamed = async (base: string, body: Buffer, rate: number): Promise<number> => {
      script(body)
      const started = performance.now()
      for await (const samples of streamSentence(speaker, base, { rate, ...fresh() })) { void samples; break }
      return performance.now() - started
    }
    const whole = async (base: string, body: Buffer, rate: number): Promise<number> => {
      script(body)
      const started = performance.now()
      const { path } = await cache.render(base, fresh())
      const file = parseWav(await readFile(path))
      const samples = file.sampleRate === rate ? file.samples : resample(file.samples, file.sampleRate, rate)
      void samples[0]
      return performance.now() - started
    }

    const rows: FirstAudioRow[] = []
    for (const [path, fn, count] of [['streamed', streamed, n], ['whole sentence (before)', whole, Math.max(3, Math.round(n / 2))]] as const) {
      for (const rate of [8000, 16000]) {
        const short: number[] = []
        const long: number[] = []
        await fn(SHORT, audio.short, rate) // warm-up: JIT, the kernel table, the connection pool
        for (let i = 0; i < count; i++) {
          short.push(await fn(SHORT, audio.short, rate))
          long.push(await fn(LONG, audio.long, rate))
        }
        rows.push({ path, rate, short: dist(short), long: dist(long) })
        log(`${path} ${rate} Hz: short p50 ${percentile(short, 50).toFixed(1)} ms, long p50 ${percentile(long, 50).toFixed(1)} ms`)
      }
    }
    await cache.idle()

    script(audio.long)
    await cache.render(LONG, {})
    const cached = []
    for (const rate of [8000, 16000]) {
      const times: number[] = []
      for (let i = 0; i <= n; i++) {
        const started = performance.now()
        for await (const samples of streamSentence(speaker, LONG, { rate })) { void samples; break }
        if (i > 0) times.push(performance.now() - started)
      }
      cached.push({ rate, dist: dist(times) })
      log(`cached ${rate} Hz: p50 ${percentile(times, 50).toFixed(2)} ms`)
    }
    await cache.idle()

    const resampler = [[24000, 8000], [24000, 16000], [22050, 8000], [8000, 16000]].map(([from, to]) => resamplerCost(from as number, to as number))
    const s8 = rows.find((r) => r.path === 'streamed' && r.rate === 8000)
    return { rows, cached, resampler, lengthPenaltyMs: s8 === undefined ? Number.NaN : s8.long.p50 - s8.short.p50 }
  } finally {
    await fake.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** µs per 20 ms input chunk over a minute of audio, and a 4 s sentence resampled whole (ms). */
function resamplerCost (from: number, to: number): ResamplerRow {
  const chunk = Math.round(from * 0.02)
  const minute = new Int16Array(from * 60)
  for (let i = 0; i < minute.length; i++) minute[i] = Math.round(8000 * Math.sin(i * 0.05) + 2000 * Math.sin(i * 0.9))
  const r = new StreamingResampler(from, to)
  for (let at = 0; at < from * 5; at += chunk) r.push(minute.subarray(at, at + chunk)) // warm-up
  const started = performance.now()
  for (let at = 0; at < minute.length; at += chunk) r.push(minute.subarray(at, at + chunk))
  const usPerChunk = (performance.now() - started) * 1000 / Math.ceil(minute.length / chunk)
  const sentence = minute.subarray(0, from * 4)
  resample(sentence, from, to)
  const t0 = performance.now()
  resample(sentence, from, to)
  return { from, to, usPerChunk, wholeSentenceMs: performance.now() - t0 }
}

const ms = (v: number): string => Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a'

/** The BENCHMARKS.md section (markers included). */
export function ttsStreamSection (r: TtsStreamResult, at = new Date()): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const met = r.lengthPenaltyMs <= 20
  return [
    '<!-- tts-streaming:begin (written by bench/tts-stream.ts) -->',
    '## First audio without waiting for the sentence (TTS streaming)',
    '',
    `Command: \`node --import tsx bench/tts-stream.ts\`. Machine: ${cpus().length} × ${cpu}, Node ${process.version}. Date: ${at.toISOString()}.`,
    '',
    'The real OpenAI client and `OpenAiTts` against the loopback OpenAI-compatible fake: the response starts',
    `${TTS_FAKE.latencyMs} ms after the request, then ${TTS_FAKE.rate / 1000} kHz PCM comes in ${TTS_FAKE.pieceMs} ms pieces every ${TTS_FAKE.pieceEveryMs} ms (four times real time);`,
    `a sentence lasts ${TTS_FAKE.msPerChar} ms per character (10 characters ≈ 0.7 s, 60 ≈ 4 s). Measured from the call to the first`,
    'samples at the stream rate: *streamed* is `streamSentence(speaker, text, { rate })` over `SpeechCache.stream`;',
    '*whole sentence* is the path before: `render()`, read the WAV, resample it whole. Every measured sentence is a',
    'cache miss except in the cached rows. Sequential requests, one at a time.',
    '',
    '| path | stream rate | 10 chars p50 | 60 chars p50 | 60 − 10 (p50) | p99 10 / 60 | runs |',
    '|---|---|---|---|---|---|---|',
    ...r.rows.map((row) => `| ${row.path} | ${row.rate} | ${ms(row.short.p50)} | ${ms(row.long.p50)} | ${ms(row.long.p50 - row.short.p50)} | ${ms(row.short.p99)} / ${ms(row.long.p99)} | ${row.short.n} + ${row.long.n} |`),
    ...r.cached.map((c) => `| cached sentence (60 chars), streamed | ${c.rate} | | ${ms(c.dist.p50)} | | ${ms(c.dist.p99)} | ${c.dist.n} |`),
    '',
    `Goal (issue 14): first audio independent of the first sentence's length, ≤ 20 ms difference between 10 and 60`,
    `characters: **${ms(r.lengthPenaltyMs)}** at 8 kHz, ${met ? 'met' : '**missed**'}. What remains above the fake's ${TTS_FAKE.latencyMs} ms is the HTTP round trip,`,
    'the first 20 ms piece and its conversion. The whole-sentence path waits for the provider to finish (about 1 s',
    'for 4 s of audio at four times real time) and then converts all of it: that wait is what streaming removes.',
    '',
    'The streaming resampler (lib/media/resample-stream.ts), per 20 ms input chunk over a minute of audio, against',
    'resampling a 4 s sentence whole in one go (which blocks the event loop for that long):',
    '',
    '| from → to | µs per 20 ms chunk | whole 4 s sentence at once |',
    '|---|---|---|',
    ...r.resampler.map((x) => `| ${x.from} → ${x.to} | ${x.usPerChunk.toFixed(1)} µs | ${ms(x.wholeSentenceMs)} |`),
    '<!-- tts-streaming:end -->',
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { readFile: read, writeFile } = await import('node:fs/promises')
  const result = await runTtsStreamBench({ log: (line) => { process.stderr.write(`bench: ${line}\n`) } })
  const file = new URL('../BENCHMARKS.md', import.meta.url)
  const doc = await read(file, 'utf8').catch(() => '# Benchmarks\n')
  await writeFile(file, spliceSection(doc, 'tts-streaming', ttsStreamSection(result)))
  process.stderr.write('bench: section written to BENCHMARKS.md\n')
}
