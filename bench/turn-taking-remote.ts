/**
 * The driver's side of bench/turn-taking-child.ts: the provider fakes and the first-audio
 * simulator in a child process, pinned to the other CPU when it can be (`taskset`), so the
 * server's event loop and core carry only the server's work.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { Test } from 'tap'
import type { Speaker } from '../lib/call/context.ts'
import { createOpenAiClient } from '../lib/providers/openai-client.ts'
import { ProviderQueue } from '../lib/providers/queue.ts'
import { OpenAiTts } from '../lib/speech/tts/openai.ts'
import { SpeechCache } from '../lib/speech/tts-cache.ts'
import type { WriteTimer } from '../lib/simulator/index.ts'
import { startRig, type ConversationRig } from '../test/conversation/helpers.ts'
import { FakeOpenAiServer, type Reply } from '../test/fakes/openai-server.ts'
import { pinApart, unpinDriver } from './capacity-child.ts'
import { ForkedServer, type WithoutId } from './forked-server.ts'
import type { ChildReply, ChildRequest, FrameTimes, SeenRequest } from './turn-taking-child.ts'

/**
 * What the rig and the bench use of `FakeOpenAiServer`, answered by the child: replies are
 * scripted over IPC (before the call that uses them), requests read back after the call (`sync`).
 */
export interface RemoteFake {
  readonly baseUrl: string
  readonly requests: SeenRequest[]
  readonly openConnections: number
  reply: (path: string, ...replies: Reply[]) => void
  whenNoConnections: () => Promise<void>
  close: () => Promise<void>
}

export class TurnTakingChild extends ForkedServer<ChildRequest, ChildReply & { port?: number }> {
  readonly ttsUrl: string
  readonly pinned: boolean
  #scripted: Promise<unknown> = Promise.resolve()

  private constructor (child: Awaited<ReturnType<typeof ForkedServer.fork>>, pinned: boolean) {
    super('turn-taking fakes', child.child, child.port)
    this.ttsUrl = `http://127.0.0.1:${String(child.ready.ttsPort)}/v1`
    this.pinned = pinned
  }

  static async start (pin: boolean): Promise<TurnTakingChild> {
    const forked = await super.fork('turn-taking fakes', new URL('./turn-taking-child.ts', import.meta.url), [], ['--import', 'tsx'])
    const pinned = pin && await pinApart(forked.child.pid ?? 0)
    return new TurnTakingChild(forked, pinned)
  }

  override async stop (): Promise<void> {
    await super.stop()
    if (this.pinned) await unpinDriver()
  }

  /** The child forgets the requests so far and when the TTS fake was first asked, and takes the TTS offset. */
  async reset (ttsOffsetMs: number): Promise<void> {
    await this.request({ type: 'reset', ttsOffsetMs, fresh: false })
  }

  /** A fresh STT and LLM fake for one rig, as the test rig starts one per rig. */
  async fake (ttsOffsetMs: number): Promise<RemoteFake> {
    const r = await this.request({ type: 'reset', ttsOffsetMs, fresh: true })
    if (r.type !== 'ok' || r.port === undefined) throw new Error(`turn-taking fakes: ${r.type}`)
    const requests: SeenRequest[] = []
    return {
      baseUrl: `http://127.0.0.1:${r.port}/v1`,
      requests,
      openConnections: 0,
      reply: (path, ...replies) => { this.#scripted = Promise.all([this.#scripted, this.request({ type: 'reply', path, replies } as WithoutId<ChildRequest>)]) },
      whenNoConnections: async () => {},
      close: async () => {},
    }
  }

  /** Reads back what the fakes received into `fake.requests`; returns the TTS fake's times and its timer's lateness (ms per render since the last sync). */
  async sync (fake: RemoteFake): Promise<{ ttsAsked?: number, ttsYielded?: number, ttsLateMs: number[] }> {
    const seen = await this.request({ type: 'seen' })
    if (seen.type !== 'seen') throw new Error(`turn-taking fakes: ${seen.type}`)
    fake.requests.splice(0, fake.requests.length, ...seen.requests)
    return { ttsLateMs: seen.ttsLateMs, ...(seen.ttsAsked === undefined ? {} : { ttsAsked: seen.ttsAsked }), ...(seen.ttsYielded === undefined ? {} : { ttsYielded: seen.ttsYielded }) }
  }

  /** One first-audio call placed by the child's simulator, once the scripted replies are in. */
  async call (port: number, destination: string, callerNumber: string, writeTimer: WriteTimer, speechEndMs: number): Promise<{ t0: number, frame?: FrameTimes }> {
    await this.#scripted
    const r = await this.request({ type: 'call', port, destination, callerNumber, writeTimer, speechEndMs }, 30_000)
    if (r.type !== 'call') throw new Error(`turn-taking fakes: ${r.type}`)
    return r
  }

  /** The real OpenAI TTS client against the child's fake, behind the real speech cache in `dir`. */
  speaker (dir: string): Speaker {
    const client = createOpenAiClient({ baseUrl: this.ttsUrl, apiKey: 'sk-test' })
    const provider = new OpenAiTts({ client, name: 'bench-tone', model: 'tts-1', voice: 'alloy', format: 'pcm', sampleRate: 24_000, queue: new ProviderQueue('tts', 4), retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }, timeoutMs: 5000 })
    return new SpeechCache({ provider, soundsDir: dir, maxBytes: 64 * 1024 * 1024, logger: pino({ level: 'silent' }), sampleRate: 8000 })
  }
}

/**
 * The test rig (the real server, clients and speech cache) with its provider fakes in the child:
 * `startRig` starts its own `FakeOpenAiServer`, so its `start` hands back the child's for the
 * duration (the rig uses only the members of `RemoteFake`).
 */
export async function startRemoteRig (child: TurnTakingChild, t: Test, media: Record<string, unknown>, dirs: string[], ttsOffsetMs: number): Promise<ConversationRig> {
  const fake = await child.fake(ttsOffsetMs)
  const start = FakeOpenAiServer.start
  FakeOpenAiServer.start = async () => fake as unknown as FakeOpenAiServer
  try {
    return await startRig(t, {
      media,
      keepAlive: true,
      wrapSpeaker: () => {
        const dir = mkdtempSync(join(tmpdir(), 'pa-bench-tts-'))
        dirs.push(dir)
        return child.speaker(dir)
      },
    })
  } finally {
    FakeOpenAiServer.start = start
  }
}
