import { createRequire } from 'node:module'

const load = createRequire(import.meta.url)

/**
 * A package loaded on first use, through `require`. Importing a large client SDK costs its whole
 * module graph at start-up in every process that merely might use it (the Anthropic SDK ~320 ES
 * modules, about 1.5 CPU-seconds through tsx's loader; the OpenAI SDK ~150), including `check`,
 * `calls`, `--version` and every test. These packages ship a CommonJS build: `require` is
 * synchronous, so a client is still built synchronously, loads in well under half the time of the
 * ES build, and gives one copy only, so `instanceof` on the package's classes holds everywhere.
 * Every runtime use of such a package goes through its LazyPackage; other modules import only
 * its types.
 */
export class LazyPackage<T> {
  #value: T | undefined

  constructor (readonly id: string) {}

  get (): T {
    this.#value ??= load(this.id) as T
    return this.#value
  }

  /** The package if it was ever loaded (an error can only be one of its classes then). */
  get loaded (): T | undefined {
    return this.#value
  }
}
