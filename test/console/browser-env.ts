import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'

/** Where browser tests keep their screenshots (gitignored), named in the test output. */
export const ARTIFACTS = resolve('test-artifacts/console')

/** Debian's chromium, or the one PHONE_AGENT_CHROMIUM names; undefined skips the browser tests. */
export const CHROMIUM = [process.env.PHONE_AGENT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p !== undefined && existsSync(p))

export const SKIP_WITHOUT_CHROMIUM = { skip: CHROMIUM === undefined ? 'no Chromium (apt-get install chromium)' : false }

export async function artifactsDir (t: { comment (message: string): void }): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true })
  t.comment(`screenshots in ${ARTIFACTS}`)
  return ARTIFACTS
}
