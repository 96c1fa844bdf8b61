import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import type { Logger } from 'pino'
import { PhoneAgentError, abortReason } from '../../errors.ts'
import type { Channel } from '../../freeswitch/channel.ts'
import { MediaEndpoint, sharedUdpMux, type InboundFrame, type Playout, type PlayoutResult } from '../../media/stream/index.ts'
import { EchoGuard } from '../../media/echo.ts'
import { CallerTimeline } from '../../media/caller-timeline.ts'
import { Vad, type VadEngine, type VoiceDetector } from '../../media/vad/index.ts'
import type { MediaStreamConfig } from '../config.ts'
import { callChild } from '../child-logger.ts'
import { heldFreeswitchPort, sendUnicast, watchUnicastStart } from './unicast-start.ts'

/**
 * How long after our last sound went out FreeSWITCH may still be writing it, beyond the frames
 * sent ahead (`leadFrames`): a lag a stall left that the pacer has not drained yet (it drains only
 * between replies, call-pacer.ts), and a little of the phone's own playout delay. What the switch
 * still holds when the call hangs up is never written: the unicast thread ends with the channel
 * (switch_ivr.c unicast_thread_run; measured on FreeSWITCH 1.11: 13 frames of a goodbye lost
 * after a 358 ms stall, docs/benchmarks.md). So the stream's close, just before our hangup, waits
 * that long after the last sound (not after silence: idle silence may be cut).
 */
const PLAY_OUT_MS = 200
/** The stream's frame (ms). */
const FRAME_MS = 20

/**
 * A call's streaming media: one UDP endpoint that FreeSWITCH's `unicast` connects to. In this
 * mode every sound goes through the stream: `playback` and `record` would end unicast for good
 * (switch_core_session_reset deactivates it), so the verbs never use them.
 */
export class StreamSession {
  readonly endpoint: MediaEndpoint
  readonly rate: number
  readonly #config: MediaStreamConfig
  readonly #vads: VadEngine | undefined
  readonly #signal: AbortSignal
  /** When the last frame with sound in it was sent (performance.now, the endpoint's scheduler clock). */
  #lastSoundAt = Number.NEGATIVE_INFINITY
  /** The echo guard's verdict on the latest frame from the caller (by its seq). */
  #echoSeq = -1
  #echoOnly = false
  readonly #unsubscribe: () => void
  /** Why the stream never started (unicast-start.ts): every later use of it throws this. */
  #failure: PhoneAgentError | undefined
  /** Told the failure when it comes (made only when someone listens). */
  #failureListeners: Array<(failure: PhoneAgentError) => void> | undefined

  private constructor (endpoint: MediaEndpoint, rate: number, config: MediaStreamConfig, vads: VadEngine | undefined, signal: AbortSignal) {
    this.endpoint = endpoint
    this.rate = rate
    this.#config = config
    this.#vads = vads
    this.#signal = signal
    // Our own output coming back on the caller's line (lib/media/echo.ts), watched from the
    // stream's first frame both ways: a pre-rendered greeting goes straight to the stream before
    // anyone listens, and a guard made for the first listen had not seen it sent: the VAD took
    // its echo for the caller, who then got a reply to our own greeting.
    const echo = config.bargeIn.echoGuard ? new EchoGuard({ rate }) : undefined
    const stopSent = endpoint.onSent((_frame, at, samples) => {
      echo?.noteOutbound(samples, at)
      // Four samples looked at. Idle and paused frames are all zeros; a frame of sound whose four
      // are zero counts as silence, and the wait in playedOut() has room for that.
      const q = samples.length >> 2
      if ((samples[0] as number) !== 0 || (samples[q] as number) !== 0 || (samples[2 * q] as number) !== 0 || (samples[3 * q] as number) !== 0) this.#lastSoundAt = at
    })
    // Subscribed before anyone else: every later listener of the same frame can ask echoOnly().
    // Placed by media time, not arrival (caller-timeline.ts).
    const timeline = new CallerTimeline()
    const stopFrames = echo === undefined
      ? () => {}
      : endpoint.onFrame((frame) => {
        this.#echoOnly = echo.inbound(frame.samples, timeline.place(frame.mediaMs, frame.receivedAt)).echoOnly
        this.#echoSeq = frame.seq
      })
    this.#unsubscribe = () => { stopSent(); stopFrames() }
  }

  /**
   * Whether the echo guard (`bargeIn.echoGuard`) found `frame` to be only our own output coming
   * back, nothing the caller said: a voice detector should hear silence. For the frame an
   * endpoint.onFrame listener is being given (the latest); false for any other, or with no guard.
   */
  echoOnly (frame: InboundFrame): boolean {
    return frame.seq === this.#echoSeq && this.#echoOnly
  }

  /** Open our socket and ask FreeSWITCH to stream to it. The channel must be answered. */
  static async start (channel: Channel, config: MediaStreamConfig, log: Logger, vads?: VadEngine | undefined): Promise<StreamSession> {
    // The channel's rate decides the frame size; wideband codecs (G.722, Opus) run at 16 kHz.
    const rate = Number(channel.data.headers.variable_read_rate ?? channel.data.headers['Channel-Read-Codec-Rate'] ?? 8000) === 16000 ? 16000 : 8000
    const fsAddress = config.freeswitchAddress
    // Held for the call: no other call of this process is told the same port meanwhile.
    const fsPort = await heldFreeswitchPort(channel, config)
    const endpoint = await MediaEndpoint.open({
      rate,
      bindAddress: config.bindAddress,
      port: config.ports ?? 0,
      advertisedAddress: config.advertisedAddress,
      peer: { address: fsAddress, port: fsPort.port },
      mux: config.sockets === 'shared' ? sharedUdpMux(config.bindAddress, config.ports) : undefined,
      leadFrames: config.leadFrames,
      writeTimer: config.writeTimer,
      signal: channel.signal,
      logger: callChild(log, { module: 'stream' }),
    })
    try {
      await sendUnicast(channel, config, fsPort.port, endpoint)
    } catch (err) {
      fsPort.release()
      await endpoint.close()
      throw err
    }
    log.debug({ rate, local: endpoint.localAddress, freeswitchPort: fsPort.port }, 'unicast stream started')
    const session = new StreamSession(endpoint, rate, config, vads, channel.signal)
    // Not awaited: the greeting is made while FreeSWITCH starts; nothing is sent before it has.
    void watchUnicastStart({ channel, endpoint, config, log, firstPort: fsPort.port }).then((failure) => {
      if (failure === undefined) return
      log.error({ err: failure }, 'the media stream never started: ending the call')
      session.#failure = failure
      void endpoint.close()
      const listeners = session.#failureListeners
      session.#failureListeners = undefined
      for (const listener of listeners ?? []) listener(failure)
    }, (err: unknown) => { log.error({ err }, 'watching the media stream start failed') })
    return session
  }

  /** Why the stream never started (unicast-start.ts), once that is known. */
  get failure (): PhoneAgentError | undefined { return this.#failure }

  /**
   * `listener` is told why if the stream is given up (at once when it already was): for work that
   * waits on the caller without playing anything (a realtime exchange). Returns the unsubscribe.
   */
  onFailure (listener: (failure: PhoneAgentError) => void): () => void {
    const failure = this.#failure
    if (failure !== undefined) { queueMicrotask(() => { listener(failure) }); return () => {} }
    const listeners = this.#failureListeners ??= []
    listeners.push(listener)
    return () => {
      const i = listeners.indexOf(listener)
      if (i >= 0) listeners.splice(i, 1)
    }
  }

  /** The stream never started: throws why. For every use of a session already made. */
  throwIfFailed (): void {
    if (this.#failure !== undefined) throw this.#failure
  }

  /** What a playout the stream's close cut short throws. */
  closedError (): PhoneAgentError {
    return this.#failure ?? new PhoneAgentError('ESL_SOCKET_CLOSED', 'media stream closed during playback')
  }

  /**
   * A voice-activity detector for one listening stretch: the shared engine's (Silero, batched
   * across calls) when there is one, else the classic detector. Close it when done: a Silero
   * detector holds a batch slot (the call's end frees it too).
   */
  newVad (overrides: { endSilenceMs?: number, minSpeechMs?: number } = {}): VoiceDetector {
    if (this.#vads !== undefined) return this.#vads.create({ rate: this.rate, ...overrides, signal: this.#signal })
    return new Vad({ rate: this.rate, ...this.#config.vad, ...overrides })
  }

  /**
   * Play PCM (at any rate; resampled) and resolve when its last frame was handed to the socket:
   * the shared socket holds a reply's frames until due, so the last leaves up to HOLD_AHEAD_MS
   * later (endpoint-options.ts; seen on a real switch, 2026-12-03). playedOut() counts from when
   * it leaves. Aborting the signal clears it within a frame (held frames included) and rejects
   * with the reason; the result says what was heard.
   */
  async play (samples: Int16Array, sampleRate: number, signal: AbortSignal): Promise<PlayoutResult> {
    if (signal.aborted) throw abortReason(signal)
    this.throwIfFailed()
    // At the stream's rate the samples go in as they are (no copy: files are shared by calls).
    const playout: Playout = this.endpoint.enqueue(sampleRate === this.rate
      ? samples
      : { pcm: Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength), sampleRate })
    const onAbort = (): void => { this.endpoint.clear() }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const result = await playout.done
      if (signal.aborted) throw abortReason(signal)
      if (result.status === 'closed') throw this.closedError()
      return result
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Wait until FreeSWITCH has likely written the last sound we sent (bounded: the frames sent
   * ahead plus PLAY_OUT_MS after it went out; at once when that has passed, the call is over, or
   * the stream closed). Call it before hanging up, or the end of a goodbye may be cut.
   */
  async playedOut (): Promise<void> {
    if (this.#signal.aborted || this.endpoint.closed) return
    const wait = this.#lastSoundAt + (this.#config.leadFrames + 1) * FRAME_MS + PLAY_OUT_MS - performance.now()
    if (!(wait > 0)) return
    // The caller hanging up ends the wait (and its timer) at once.
    await delay(wait, undefined, { signal: this.#signal }).catch(() => {})
  }

  /** Let the last sound play out (playedOut), then release the socket. The runner hangs up after it. */
  async close (): Promise<void> {
    await this.playedOut()
    this.#unsubscribe()
    await this.endpoint.close()
  }
}
