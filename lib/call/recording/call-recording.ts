import { mkdir } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import type { Logger } from 'pino'
import type { AgentServices } from '../../agent/services.ts'
import type { CallConfig, RouteConfig } from '../config.ts'
import { isCallEnded } from '../../errors.ts'
import { decodeFrame } from '../../media/stream/frame.ts'
import { WavFileWriter } from '../../media/wav-writer.ts'
import type { CallRecorder, CallRecordingResult } from '../../records/types.ts'
import type { Speaker } from '../context.ts'
import { decodedAudio } from '../stream/decoded-audio.ts'
import type { StreamSession } from '../stream/session.ts'
import { consentText } from './config.ts'
import { StereoTimeline } from './stereo.ts'

/** The file of a call's recording: named by the validated call UUID only, filed under the day it started. */
export function callRecordingPath (soundsDir: string, uuid: string, startedAt: number): string | undefined {
  if (!/^[0-9a-f-]{36}$/.test(uuid)) return undefined
  return join(resolve(soundsDir), 'recordings', new Date(startedAt).toISOString().slice(0, 10), `${uuid}-call.wav`)
}

/**
 * A call to record (the route says `recordCall`, stream mode), or undefined. Decided before
 * the record begins, so the record carries the file's path from its first write: a crash
 * mid-call cannot lose the link (start-up repairs the file, or clears a path with no file).
 */
export function planCallRecording (config: Pick<CallConfig, 'media'>, route: RouteConfig | undefined, uuid: string, startedAt: number, log: Logger): CallRecording | undefined {
  if (route?.recordCall !== true || (route.mediaMode ?? config.media.mode) !== 'stream') return undefined
  const path = callRecordingPath(config.media.soundsDir, uuid, startedAt)
  if (path === undefined) {
    log.warn('call uuid is not a uuid; the call is not recorded')
    return undefined
  }
  return new CallRecording(path, config, log)
}

export interface ConsentDeps {
  readonly speaker: Speaker
  readonly agent?: AgentServices | undefined
  readonly language: string
  readonly voice: string | undefined
  readonly signal: AbortSignal
}

/**
 * One call's stereo recording (caller left, agent right), from the stream's own frames: the
 * endpoint's synchronous inbound and sent-frame listeners, so nothing is copied off the hot
 * path but the frame itself. Written as it goes (WavFileWriter: placeholder header, appended
 * every 0.5 s, sizes patched at the end). Never throws into the call.
 */
export class CallRecording {
  readonly path: string
  readonly #config: Pick<CallConfig, 'media'>
  readonly #log: Logger
  #writer: WavFileWriter | undefined
  #timeline: StereoTimeline | undefined
  #unsubscribe: Array<() => void> = []
  #stopped: Promise<CallRecordingResult> | undefined

  constructor (path: string, config: Pick<CallConfig, 'media'>, log: Logger) {
    this.path = path
    this.#config = config
    this.#log = log
  }

  /**
   * Play the consent line (when configured), then start recording. A consent line that could
   * not be played means no recording: the caller must hear it before anything is kept.
   */
  async start (session: StreamSession, deps: ConsentDeps): Promise<void> {
    if (this.#stopped !== undefined || this.#writer !== undefined) return
    try {
      const text = consentText(this.#config.media.stream.recording, deps.language)
      if (text !== undefined) {
        const file = deps.agent?.canned.lookup(text, deps.language, deps.voice) ??
          (await deps.speaker.render(text, { language: deps.language, voice: deps.voice, signal: deps.signal })).path
        await session.play(await decodedAudio.get(file, session.rate), session.rate, deps.signal)
      }
      if (deps.signal.aborted || this.#stopped !== undefined) return
      await mkdir(dirname(this.path), { recursive: true })
      const writer = await WavFileWriter.create(this.path, { sampleRate: session.rate, channels: 2 })
      if (this.#stopped !== undefined) { await writer.discard(); return }
      const timeline = new StereoTimeline(session.rate, (stereo) => { writer.write(stereo) })
      const toSample = session.rate / 1000
      this.#unsubscribe = [
        session.endpoint.onFrame((frame) => { timeline.caller(frame.samples, Math.round(frame.mediaMs * toSample)) }),
        session.endpoint.onSent((frame, sentAt) => { timeline.agent(decodeFrame(frame), sentAt) }),
      ]
      this.#writer = writer
      this.#timeline = timeline
      this.#log.info({ path: this.path }, 'call recording started')
    } catch (err) {
      if (!isCallEnded(err)) this.#log.warn({ err }, 'call recording not started')
    }
  }

  /** Stop and close the file; idempotent. Null when nothing was recorded (the file is removed). */
  async stop (): Promise<CallRecordingResult> {
    this.#stopped ??= this.#stop()
    return await this.#stopped
  }

  async #stop (): Promise<CallRecordingResult> {
    for (const off of this.#unsubscribe) off()
    const writer = this.#writer
    if (writer === undefined) return null
    this.#timeline?.finish()
    if (writer.frames === 0) {
      await writer.discard()
      return null
    }
    try {
      const { durationMs } = await writer.close()
      this.#log.info({ path: this.path, durationMs }, 'call recording ended')
      return { durationMs }
    } catch (err) {
      this.#log.error({ err, path: this.path }, 'call recording could not be finished')
      await writer.discard()
      return null
    }
  }

  /** The call's recorder, whose end waits for the file and says what became of it. */
  wrap (inner: CallRecorder): CallRecorder {
    return {
      uuid: inner.uuid,
      rejected: (reason) => { inner.rejected(reason) },
      answered: (at) => { inner.answered(at) },
      contact: (name) => { inner.contact(name) },
      turn: (turn) => { inner.turn(turn) },
      latency: (latency) => { inner.latency(latency) },
      message: (message) => { inner.message(message) },
      error: (error) => { inner.error(error) },
      usage: (usage) => { inner.usage(usage) },
      end: async (end) => { await inner.end({ ...end, recording: await this.stop() }) },
    }
  }
}
