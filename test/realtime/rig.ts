import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { startPhoneAgent, type RunningPhoneAgent } from '../../lib/app.ts'
import { createAgentServices } from '../../lib/agent/services.ts'
import { buildConfig } from '../../lib/config/load.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { FakeGeminiLive } from '../fakes/realtime-gemini.ts'
import { FakeOpenAiRealtime } from '../fakes/realtime-openai.ts'
import type { FakeRealtimeBase, FakeRealtimeOptions } from '../fakes/realtime-core.ts'
import { withTestVad } from '../helpers/agent.ts'
import { captureLogs, type LogRecord } from '../helpers/logs.ts'
import { toneSpeaker } from '../helpers/speaker.ts'
import { speechLike } from '../media-stream/signals.ts'
import { captureStore } from '../conversation/helpers.ts'

export const DID = '+390212345678'
export const CALLER = '+393331234567'
export const KEY_ENV = 'PA_TEST_REALTIME_KEY'

export type Vendor = 'openai' | 'gemini'
export type AnyFake = FakeRealtimeBase & { readonly baseUrl: string }

export interface RealtimeRig {
  readonly agent: RunningPhoneAgent
  readonly port: number
  readonly fake: AnyFake
  readonly logs: LogRecord[]
  readonly store: ReturnType<typeof captureStore>
}

/**
 * The real server with the receptionist on DID in realtime mode against a vendor fake: stream
 * media, no STT or language model configured (realtime needs neither), the tone speaker for
 * the fixed phrases, a price for the vendor's model, and a capturing call store.
 */
export async function startRealtimeRig (t: Test, vendor: Vendor, options: { fake?: FakeRealtimeOptions, agent?: Record<string, unknown>, realtime?: Record<string, unknown>, transfers?: Record<string, unknown>, vad?: Record<string, unknown>, stream?: Record<string, unknown>, routeOptions?: Record<string, unknown> } = {}): Promise<RealtimeRig> {
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-rt-'))
  const fake: AnyFake = vendor === 'openai' ? await FakeOpenAiRealtime.start(options.fake) : await FakeGeminiLive.start(options.fake)
  process.env[KEY_ENV] = 'rt-test-key'
  const model = vendor === 'openai' ? 'gpt-realtime' : 'gemini-live-2.5-flash-preview'
  const config = buildConfig({
    server: { port: 0, commandTimeoutMs: 3000, lingerMs: 50 },
    media: withTestVad({ soundsDir, mode: 'stream', stream: { ...options.stream, vad: { ...options.vad } } }),
    language: 'it-IT',
    routes: { [DID]: { script: 'receptionist', options: { mode: 'realtime', ...options.routeOptions } } },
    transfers: options.transfers ?? {
      operator: { type: 'extension', extension: '1000' },
      sales: { type: 'extension', extension: '2000' },
    },
    speech: { pricing: { llm: { [`${vendor}:${model}`]: { inputPerMillionTokens: 32, outputPerMillionTokens: 64 } } } },
    agent: {
      transfers: { human: 'operator' },
      realtime: { vendor, baseUrl: fake.baseUrl, apiKeyEnv: KEY_ENV, openTimeoutMs: 1500, ...options.realtime },
      ...options.agent,
    },
  }, process.cwd())
  const { logger, records: logs } = captureLogs()
  const speaker = toneSpeaker(soundsDir)
  const services = await createAgentServices(config, { renderer: speaker })
  const store = captureStore()
  const agent = await startPhoneAgent(config, { logger, speaker, agent: services, records: store })
  t.teardown(async () => {
    await agent.stop(5000)
    await services.close()
    await fake.close()
    await rm(soundsDir, { recursive: true, force: true })
  })
  return { agent, port: agent.server.port, fake, logs, store }
}

/** Speech the VAD recognises as a voice, at `atMs` on the call timeline. */
export function voice (atMs: number, ms: number, f0 = 140): { atMs: number, wav: Buffer } {
  return { atMs, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, ms / 1000, -18, { f0 }) }) }
}
