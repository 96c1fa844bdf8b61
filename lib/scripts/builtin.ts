import { fileURLToPath } from 'node:url'

/** Scripts that ship with the package, usable by name in `routes:` without a `scripts:` entry. */
export const BUILTIN_SCRIPTS: Readonly<Record<string, string>> = {
  'take-message': fileURLToPath(new URL('./take-message.ts', import.meta.url)),
  receptionist: fileURLToPath(new URL('./receptionist.ts', import.meta.url)),
}
