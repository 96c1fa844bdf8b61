import { createRequire } from 'node:module'

type OpenAiSdk = typeof import('openai')

let sdk: OpenAiSdk | undefined

/**
 * The `openai` package, loaded on first use. Importing it costs ~150 ES modules (about 0.7
 * CPU-seconds through tsx's loader), paid at start-up by every process that merely might talk to
 * an OpenAI-compatible server, including `check`, `calls` and every test. Loaded here through
 * `require` (the package ships a CommonJS build): synchronous, so clients are still built
 * synchronously, and one copy only, so `instanceof` on its error classes holds everywhere. Every
 * runtime use of the package goes through this function; other modules import only its types.
 */
export function openAiSdk (): OpenAiSdk {
  sdk ??= createRequire(import.meta.url)('openai') as OpenAiSdk
  return sdk
}

/** The package if a client was ever built (an error can only be one of its classes then). */
export function loadedOpenAiSdk (): OpenAiSdk | undefined {
  return sdk
}
