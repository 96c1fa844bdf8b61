import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { buildConfig, type Config } from '../../lib/config/load.ts'
import type { Speaker } from '../../lib/call/context.ts'
import { startPhoneAgent, type RunningPhoneAgent } from '../../lib/app.ts'
import type { CallStore } from '../../lib/records/types.ts'
import { captureLogs, type LogRecord } from './logs.ts'
import { toneSpeaker } from './speaker.ts'

export interface TestAgent {
  readonly agent: RunningPhoneAgent
  readonly config: Config
  readonly port: number
  readonly soundsDir: string
  readonly logs: LogRecord[]
  readonly speaker: Speaker
}

/**
 * Start the real server on a random loopback port with a temporary sounds directory. The
 * config is built from `raw` (port and soundsDir are filled in). Stopped in teardown.
 */
export async function startTestAgent (t: Test, raw: Record<string, unknown>, options: {
  speaker?: (soundsDir: string) => Speaker
  records?: Pick<CallStore, 'begin'>
} = {}): Promise<TestAgent> {
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-sounds-'))
  const config = buildConfig({
    ...raw,
    server: { port: 0, commandTimeoutMs: 3000, lingerMs: 50, ...(raw.server as object | undefined) },
    // Files mode unless a test asks for streaming: most tests assert on playback/record.
    media: withTestVad({ soundsDir, mode: 'files', ...(raw.media as object | undefined) }),
  }, process.cwd())
  const { logger, records } = captureLogs()
  const speaker = (options.speaker ?? toneSpeaker)(soundsDir)
  const agent = await startPhoneAgent(config, { logger, speaker, records: options.records })
  t.teardown(async () => {
    await agent.stop(5000)
    await rm(soundsDir, { recursive: true, force: true })
  })
  return { agent, config, port: agent.server.port, soundsDir, logs: records, speaker }
}

/**
 * The classic voice detector unless a test asks for Silero: loading the model (a worker thread)
 * for every agent a test starts costs seconds on a loaded machine, and most tests are about
 * something else. The Silero path has its own tests (vad-silero*, and conversation tests that
 * set `media.stream.vad.engine: silero`).
 */
export function withTestVad (media: Record<string, unknown>): Record<string, unknown> {
  const stream = (media.stream ?? {}) as Record<string, unknown>
  const vad = (stream.vad ?? {}) as Record<string, unknown>
  return { ...media, stream: { ...stream, vad: { engine: 'classic', ...vad } } }
}
