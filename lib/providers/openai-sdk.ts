import { LazyPackage } from '../lazy-package.ts'

/** The `openai` package, loaded when the first OpenAI-compatible client is built. */
const sdk = new LazyPackage<typeof import('openai')>('openai')

export function openAiSdk (): typeof import('openai') {
  return sdk.get()
}

/** The package if a client was ever built (an error can only be one of its classes then). */
export function loadedOpenAiSdk (): typeof import('openai') | undefined {
  return sdk.loaded
}
