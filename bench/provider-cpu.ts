/**
 * Client CPU of one AI turn's provider requests, piece by piece (issue 18: CPU per AI turn
 * ≤ 10 ms). The providers are bench/load-fakes.ts in a process of their own, so only our side
 * of each request is counted: `process.cpuUsage()` (every thread of this process) around P
 * passes of N requests of one kind, warm; the best pass is reported (this machine is shared, and
 * noise only ever adds). The kinds are the three requests a turn makes, as the turn makes them:
 * speech-to-text (1.5 s of 8 kHz speech up as a WAV), the streamed chat completion (10 SSE
 * events), text-to-speech (about 1.8 s of 24 kHz PCM down), and that reply's resampling to 8 kHz.
 *   node --import tsx bench/provider-cpu.ts [--n=20] [--passes=5] [--no-simd]
 * `--no-simd` resamples with the JavaScript loop instead of the WebAssembly SIMD kernel.
 * Prints one JSON line: ms of CPU per request, per kind; and the wall-clock time each request
 * took beyond the fake's fixed latency (`*LagMs`, median: STT to its answer, chat to its first
 * text, TTS to its first audio), our share of a turn's waiting on providers (issue 14).
 */
import { fileURLToPath } from 'node:url'
import { OpenAiLlm } from '../lib/llm/openai.ts'
import { StreamingResampler } from '../lib/media/resample-stream.ts'
import { useSimd } from '../lib/media/resample-simd.ts'
import { closeProviderConnections, createOpenAiClient } from '../lib/providers/openai-client.ts'
import { ProviderQueue } from '../lib/providers/queue.ts'
import { OpenAiStt } from '../lib/speech/stt/openai.ts'
import { OpenAiTts } from '../lib/speech/tts/openai.ts'
import { speechLike } from '../test/media-stream/signals.ts'
import { FakesProcess } from './load-children.ts'
import { FAKE_LATENCY, replyText } from './load-fakes.ts'

const retry = { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }

function arg (name: string, fallback: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? fallback : Number(a.slice(name.length + 3))
}

/** Median of wall-clock lags (ms) noted by the requests of the last cpuPer() run. */
let lags: number[] = []
function lagMedian (): number {
  const s = [...lags].sort((a, b) => a - b)
  lags = []
  return Math.round((s[Math.floor(s.length / 2)] ?? Number.NaN) * 10) / 10
}

/** CPU ms per call of `fn`, the best of `passes` passes of `n` calls (after one pass to warm up). */
async function cpuPer (n: number, passes: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let best = Number.POSITIVE_INFINITY
  for (let p = 0; p <= passes; p++) {
    lags = []
    const start = process.cpuUsage()
    for (let i = 0; i < n; i++) await fn(i)
    const used = process.cpuUsage(start)
    if (p > 0) best = Math.min(best, (used.user + used.system) / 1000 / n)
  }
  return Math.round(best * 100) / 100
}

export async function providerCpu (n: number, passes: number): Promise<Record<string, number>> {
  const fakes = await FakesProcess.start()
  try {
    const client = createOpenAiClient({ baseUrl: `http://127.0.0.1:${fakes.port}/v1`, apiKey: 'sk-bench' })
    const common = { client, retry, timeoutMs: 10_000 }
    const stt = new OpenAiStt({ ...common, name: 'stt', model: 'whisper-1', language: 'it-IT', queue: new ProviderQueue('stt', 16) })
    const llm = new OpenAiLlm({ ...common, name: 'llm', model: 'bench', queue: new ProviderQueue('llm', 16) })
    const tts = new OpenAiTts({ ...common, name: 'tts', model: 'tts-1', voice: 'alloy', format: 'pcm', sampleRate: 24_000, queue: new ProviderQueue('tts', 16) })
    const samples = speechLike(8000, 1.5, -18, { f0: 140, seed: 1 })
    const utterance = { pcm: Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength), sampleRate: 8000 }
    const messages = [{ role: 'system', content: 'You are a receptionist.' }, { role: 'user', content: 'Buongiorno, come funziona il servizio?' }] as const
    const tools = [{ type: 'function' as const, function: { name: 'transfer_call', description: 'Transfer the caller', parameters: { type: 'object', properties: { to: { type: 'string' } }, required: ['to'] } } }]
    const replies: Buffer[] = []
    const out: Record<string, number> = {}
    out.sttMs = await cpuPer(n, passes, async () => {
      const t0 = performance.now()
      await stt.transcribe(utterance, {})
      lags.push(performance.now() - t0 - FAKE_LATENCY.sttMs)
    })
    out.sttLagMs = lagMedian()
    out.chatMs = await cpuPer(n, passes, async () => {
      const t0 = performance.now()
      let first = true
      for await (const d of llm.stream(messages, { tools })) {
        if (first && d.type === 'text') { first = false; lags.push(performance.now() - t0 - FAKE_LATENCY.llmFirstMs) }
      }
    })
    out.chatLagMs = lagMedian()
    out.ttsMs = await cpuPer(n, passes, async (i) => {
      const parts: Buffer[] = []
      const t0 = performance.now()
      for await (const c of tts.synthesize({ text: replyText(i) }, {})) {
        if (parts.length === 0) lags.push(performance.now() - t0 - FAKE_LATENCY.ttsMs)
        parts.push(c.pcm)
      }
      if (replies.length < n) replies.push(Buffer.concat(parts))
    })
    out.ttsLagMs = lagMedian()
    out.resampleMs = await cpuPer(n, passes, async (i) => {
      const pcm = replies[i % replies.length] as Buffer
      const r = new StreamingResampler(24_000, 8000)
      r.push(new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2))
      r.flush()
    })
    out.perTurnMs = Math.round(((out.sttMs ?? 0) + (out.chatMs ?? 0) + (out.ttsMs ?? 0) + (out.resampleMs ?? 0)) * 100) / 100
    return out
  } finally {
    await closeProviderConnections()
    await fakes.stop()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--no-simd')) useSimd(false)
  console.log(JSON.stringify(await providerCpu(arg('n', 20), arg('passes', 5))))
  process.exit(0)
}
