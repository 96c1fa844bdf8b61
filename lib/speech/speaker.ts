import type { Logger } from 'pino'
import type { Config } from '../config/load.ts'
import type { Speaker } from '../call/context.ts'
import { SpeechCache } from './tts-cache.ts'
import { OfflineTts } from './tts/offline.ts'
import type { TtsProvider } from './types.ts'

export interface ClosableSpeaker extends Speaker {
  close (): Promise<void>
}

/**
 * The TTS the verbs use: the configured provider behind the sounds/cache/ cache, so a sentence
 * is synthesised once and every later call plays the file.
 */
export async function createSpeaker (config: Config, logger: Logger, provider?: TtsProvider & { close?: () => Promise<void> }): Promise<ClosableSpeaker> {
  const tts = provider ?? await OfflineTts.create({
    voice: config.speech.tts.offline.voice,
    espeakPath: config.speech.tts.offline.espeakPath,
    logger: logger.child({ module: 'tts' }),
  })
  const cache = new SpeechCache({
    provider: tts,
    soundsDir: config.media.soundsDir,
    maxBytes: config.speech.tts.cacheMaxMegabytes * 1024 * 1024,
    logger: logger.child({ module: 'tts-cache' }),
  })
  return {
    render: async (text, options) => await cache.render(text, options),
    close: async () => { await tts.close?.() },
  }
}
