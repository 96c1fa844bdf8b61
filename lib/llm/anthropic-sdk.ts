import { LazyPackage } from '../lazy-package.ts'

/** `@anthropic-ai/sdk`, loaded when the first Anthropic client is built (~320 ES modules otherwise). */
const sdk = new LazyPackage<typeof import('@anthropic-ai/sdk')>('@anthropic-ai/sdk')

export function anthropicSdk (): typeof import('@anthropic-ai/sdk') {
  return sdk.get()
}

/** The package if a client was ever built (an error can only be one of its classes then). */
export function loadedAnthropicSdk (): typeof import('@anthropic-ai/sdk') | undefined {
  return sdk.loaded
}
