/**
 * The turn-taking bench's providers (bench/turn-taking.ts): fixed latencies (STT 100 ms, LLM
 * first token 150 ms, TTS 100 ms), behaving as real providers do for a running server.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { Speaker } from '../lib/call/context.ts'
import { abortReason } from '../lib/errors.ts'
import { closeProviderConnections, providerConnections } from '../lib/providers/openai-client.ts'
import { ProviderPool } from '../lib/providers/warm-sockets.ts'
import { SpeechCache } from '../lib/speech/tts-cache.ts'
import type { TtsProvider } from '../lib/speech/types.ts'
import { FAKE } from './turn-taking-child.ts'

export { FAKE } from './turn-taking-child.ts'

/** How late the TTS stub's own 100 ms timer fired, per render (ms): the shared loop's lateness, not ours. */
export const ttsLateness: number[] = []
/** When the TTS fake was first asked in the call being measured, and when it yielded that audio (wall clock, ms). */
export const ttsFake: { asked?: number, yielded?: number } = {}
/**
 * Added to the TTS stub's 100 ms in a first-audio run, and subtracted from what it measures. The
 * fixed latencies are multiples of 20 ms and the chain starts on a caller frame, so every reply
 * would be ready at the same phase of FreeSWITCH's 20 ms write tick, and the result would swing
 * with that phase (0 or up to 11 ms of wait, by a ms of overhead more or less). Real providers'
 * latencies put replies at every phase: the runs spread the offset over the tick (0-19 ms).
 */
export const ttsTiming = { offsetMs: 0 }

/**
 * `--old-fakes`: the fakes as they were until 2026-12-02, for comparison. Every provider request
 * opened a new connection (the fake answered `connection: close`), and the TTS stub rendered a
 * WAV file that was then read back: neither is what a running server does with real providers.
 */
export const OLD_FAKES = process.argv.includes('--old-fakes')

/** The old TTS stub: waits, then the test rig's tone speaker writes the file. */
export const slowTts = (speaker: Speaker): Speaker => ({
  render: async (text, options) => {
    const from = performance.now()
    const wait = FAKE.ttsMs + ttsTiming.offsetMs
    await new Promise((resolve) => setTimeout(resolve, wait))
    ttsLateness.push(performance.now() - from - wait)
    return await speaker.render(text, options)
  },
})

/** OpenAI's `pcm` response format: 24 kHz s16le, resampled by the cache to the call's 8 kHz. */
const TTS_RATE = 24_000

/**
 * A streaming TTS provider with a fixed latency to its audio: the test rig's tone (2 ms per
 * character, so the barge-in replies stay long) at 24 kHz, in one chunk after the wait. It sits
 * behind the real speech cache, as the configured provider does in `phone-agent serve`: a new
 * sentence streams from the provider (the file is written in the background once complete).
 */
const fixedLatencyTts: TtsProvider = {
  name: 'bench-tone',
  voiceId: () => 'tone',
  async * synthesize (request, options) {
    ttsFake.asked ??= Date.now()
    const from = performance.now()
    const wait = FAKE.ttsMs + ttsTiming.offsetMs
    const signal = options.signal
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { signal?.removeEventListener('abort', stop); resolve() }, wait)
      const stop = (): void => { clearTimeout(timer); reject(abortReason(signal as AbortSignal)) }
      if (signal?.aborted === true) stop()
      else signal?.addEventListener('abort', stop, { once: true })
    })
    ttsLateness.push(performance.now() - from - wait)
    ttsFake.yielded ??= Date.now()
    const samples = new Int16Array(Math.round(TTS_RATE * Math.max(40, request.text.length * 2) / 1000))
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / TTS_RATE))
    yield { pcm: Buffer.from(samples.buffer), sampleRate: TTS_RATE }
  },
}

const silent = pino({ level: 'silent' })

/** The real speech cache over the fixed-latency provider, in a directory of its own (no hits from an earlier run). */
export function streamingTts (dirs: string[]): Speaker {
  const dir = mkdtempSync(join(tmpdir(), 'pa-bench-tts-'))
  dirs.push(dir)
  return new SpeechCache({ provider: fixedLatencyTts, soundsDir: dir, maxBytes: 64 * 1024 * 1024, logger: silent, sampleRate: 8000 })
}

/**
 * `--cold`: each call starts with no connection to the fakes, as the first call after 30 s
 * without calls does (the pool closed its idle ones); the conversation's pre-connect opens
 * them while the greeting plays. `--no-preconnect` turns that off, to measure what it saves.
 */
export const COLD = process.argv.includes('--cold')
if (process.argv.includes('--no-preconnect')) ProviderPool.prototype.preconnect = () => {}

/** Before a call: the pool as a server that carries calls has it, or empty with `--cold`. */
export async function poolBeforeCall (baseUrl: string): Promise<void> {
  if (COLD) await closeProviderConnections()
  else await warmConnections(baseUrl)
}

/**
 * Two idle kept-alive connections to the fake in the process's provider pool before the call: a
 * server that carries calls has them (the pool keeps them 30 s, lib/providers/openai-client.ts),
 * so a turn's requests do not pay a TCP handshake. The first turn after 30 s idle does.
 */
export async function warmConnections (baseUrl: string): Promise<void> {
  const origin = new URL(baseUrl).origin
  await Promise.all([0, 1].map(async () => {
    const res = await providerConnections().request({ origin, path: '/warm-up', method: 'GET' })
    await res.body.text()
  }))
}
