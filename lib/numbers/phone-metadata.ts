import { createRequire } from 'node:module'

type PhoneNumbers = typeof import('libphonenumber-js/max')

let loaded: PhoneNumbers | undefined

/**
 * libphonenumber-js with its full metadata, loaded on first use through `require` (the package
 * ships a CommonJS build). Its ES build is ~90 modules, about 0.3 CPU-seconds through tsx's
 * loader in every process that imports the app; the CommonJS build loads in well under half
 * that, and only in a process that parses a number. Runtime uses go through here; other modules
 * import only its types.
 */
export function phoneNumbers (): PhoneNumbers {
  loaded ??= createRequire(import.meta.url)('libphonenumber-js/max') as PhoneNumbers
  return loaded
}

/** One example mobile number per country (for the simulated caller), loaded on first use. */
export function exampleMobileNumbers (): typeof import('libphonenumber-js/mobile/examples').default {
  const examples = createRequire(import.meta.url)('libphonenumber-js/mobile/examples') as { default?: unknown }
  return (examples.default ?? examples) as typeof import('libphonenumber-js/mobile/examples').default
}
