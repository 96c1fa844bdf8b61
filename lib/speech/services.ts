import type { Logger } from 'pino'
import type { Speaker } from './types.ts'
import type { LlmProvider } from '../llm/types.ts'
import type { ProviderObserver } from '../providers/breaker.ts'
import { ttsProviders, type SpeechConfig } from './config.ts'
import { buildProviders } from './index.ts'
import type { SttProvider } from './stt/types.ts'
import { SpeechCache } from './tts-cache.ts'
import { OfflineTts } from './tts/offline.ts'
import type { TtsProvider } from './types.ts'

/** Everything speech a call may use, built once at start-up from the config. */
export interface SpeechServices {
  /**
   * TTS behind the sounds/cache/ cache: a sentence is synthesised once, every later call plays the
   * file. `render` gives the file (files mode); `stream` gives the audio as it is synthesised.
   */
  readonly speaker: Speaker
  readonly stt: SttProvider | undefined
  readonly llm: LlmProvider | undefined
  close (): Promise<void>
}

/** The parts of the config speech is built from (the app passes the whole config). */
export interface SpeechServicesConfig {
  readonly speech: SpeechConfig
  /** The default language (BCP-47). */
  readonly language: string
  /** Absolute: the TTS cache lives in its cache/ directory. */
  readonly media: { readonly soundsDir: string }
}

export interface SpeechServicesOptions {
  readonly env?: NodeJS.ProcessEnv
  /** Replaces the configured TTS provider (tests). */
  readonly tts?: TtsProvider
  /** Breaker states and failovers: pass the Metrics. */
  readonly observer?: ProviderObserver | undefined
}

export async function createSpeechServices (config: SpeechServicesConfig, logger: Logger, options: SpeechServicesOptions = {}): Promise<SpeechServices> {
  const env = options.env ?? process.env
  // The offline voice is only started when it is a configured TTS (the only one, or one in the
  // list, often the last resort): it costs a worker thread.
  const offlineEntry = options.tts === undefined ? ttsProviders(config.speech.tts).find((c) => c.entry.provider === 'offline')?.entry : undefined
  const offline = offlineEntry?.provider === 'offline'
    ? await OfflineTts.create({
      voice: offlineEntry.voice,
      espeakPath: offlineEntry.espeakPath,
      logger: logger.child({ module: 'tts' }),
    })
    : undefined
  let providers: ReturnType<typeof buildProviders>
  try {
    providers = buildProviders(config.speech, {
      env, language: config.language, log: logger, offlineTts: offline, observer: options.observer, withoutTts: options.tts !== undefined,
    })
  } catch (err) {
    // A missing key fails start-up; the voice's worker thread must not keep the process alive.
    await offline?.close()
    throw err
  }
  const tts = options.tts ?? providers.tts
  if (tts === undefined) throw new Error('no TTS provider configured') // the schema always names one
  const cache = new SpeechCache({
    provider: tts,
    soundsDir: config.media.soundsDir,
    maxBytes: config.speech.tts.cacheMaxMegabytes * 1024 * 1024,
    admission: config.speech.tts.cacheAdmission,
    logger: logger.child({ module: 'tts-cache' }),
  })
  return {
    speaker: {
      render: async (text, opts) => await cache.render(text, opts),
      stream: (text, opts) => cache.stream(text, opts),
      preconnect: () => { cache.preconnect() },
    },
    stt: providers.stt,
    llm: providers.llm,
    close: async () => {
      await offline?.close()
      await providers.close()
    },
  }
}
