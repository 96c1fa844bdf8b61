import { LazyPackage } from '../lazy-package.ts'

/**
 * libphonenumber-js with its full metadata, loaded on first use (its ES build is ~90 modules,
 * about 0.3 CPU-seconds through tsx's loader in every process that imports the app). Runtime
 * uses go through here; other modules import only its types.
 */
const max = new LazyPackage<typeof import('libphonenumber-js/max')>('libphonenumber-js/max')
/** One example mobile number per country (for the simulated caller); the JSON itself. */
const examples = new LazyPackage<typeof import('libphonenumber-js/mobile/examples').default>('libphonenumber-js/mobile/examples')

export function phoneNumbers (): typeof import('libphonenumber-js/max') {
  return max.get()
}

export function exampleMobileNumbers (): typeof import('libphonenumber-js/mobile/examples').default {
  return examples.get()
}
