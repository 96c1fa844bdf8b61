import type { Logger } from 'pino'
import { PhoneAgentError, abortReason } from '../../errors.ts'
import type { Channel } from '../../freeswitch/channel.ts'
import { MediaEndpoint, type Playout, type PlayoutResult } from '../../media/stream/index.ts'
import { Vad, type VadEngine, type VoiceDetector } from '../../media/vad/index.ts'
import type { MediaStreamConfig } from '../config.ts'
import { freeswitchLocalPort } from './freeswitch-port.ts'

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

  private constructor (endpoint: MediaEndpoint, rate: number, config: MediaStreamConfig, vads: VadEngine | undefined, signal: AbortSignal) {
    this.endpoint = endpoint
    this.rate = rate
    this.#config = config
    this.#vads = vads
    this.#signal = signal
  }

  /** Open our socket and ask FreeSWITCH to stream to it. The channel must be answered. */
  static async start (channel: Channel, config: MediaStreamConfig, log: Logger, vads?: VadEngine | undefined): Promise<StreamSession> {
    // The channel's rate decides the frame size; wideband codecs (G.722, Opus) run at 16 kHz.
    const rate = Number(channel.data.variables.read_rate ?? channel.data.headers['Channel-Read-Codec-Rate'] ?? 8000) === 16000 ? 16000 : 8000
    const fsAddress = config.freeswitchAddress
    const fsPort = await freeswitchLocalPort(fsAddress, config.freeswitchPorts)
    const endpoint = await MediaEndpoint.open({
      rate,
      bindAddress: config.bindAddress,
      port: config.ports ?? 0,
      advertisedAddress: config.advertisedAddress,
      peer: { address: fsAddress, port: fsPort },
      leadFrames: config.leadFrames,
      signal: channel.signal,
      logger: log.child({ module: 'stream' }),
    })
    try {
      await channel.sendmsg({
        'call-command': 'unicast',
        'local-ip': fsAddress,
        'local-port': String(fsPort),
        'remote-ip': endpoint.advertisedAddress.address,
        'remote-port': String(endpoint.advertisedAddress.port),
        transport: 'udp',
      })
    } catch (err) {
      await endpoint.close()
      throw err
    }
    log.debug({ rate, local: endpoint.localAddress, freeswitchPort: fsPort }, 'unicast stream started')
    return new StreamSession(endpoint, rate, config, vads, channel.signal)
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
   * Play PCM (at any rate; resampled) and resolve when its last frame was sent. Aborting the
   * signal clears it within a frame and rejects with the reason; the result says what was heard.
   */
  async play (samples: Int16Array, sampleRate: number, signal: AbortSignal): Promise<PlayoutResult> {
    if (signal.aborted) throw abortReason(signal)
    // At the stream's rate the samples go in as they are (no copy: files are shared by calls).
    const playout: Playout = this.endpoint.enqueue(sampleRate === this.rate
      ? samples
      : { pcm: Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength), sampleRate })
    const onAbort = (): void => { this.endpoint.clear() }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const result = await playout.done
      if (signal.aborted) throw abortReason(signal)
      if (result.status === 'closed') throw new PhoneAgentError('ESL_SOCKET_CLOSED', 'media stream closed during playback')
      return result
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  async close (): Promise<void> {
    await this.endpoint.close()
  }
}
