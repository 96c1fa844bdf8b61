import type { Logger } from 'pino'
import { captureLogs } from '../helpers/logs.ts'
import { beyondBaseline } from '../helpers/specs.ts'

/** A pino logger whose records land in an array, to assert on whole log lines. */
export function logSink (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const { logger, records } = captureLogs('debug')
  return { logger, lines: records }
}

/** A string sink with the `write` shape the CLI takes. */
export function textSink (): { out: { write (s: string): void }, text: () => string } {
  let buf = ''
  return { out: { write (s: string) { buf += s } }, text: () => buf }
}

/** Handles a finished test must not leave behind (timers, immediates, sockets, servers). */
export async function leakedHandlesSettled (waitMs = 2000): Promise<string[]> {
  // In a shared spec process an earlier spec's timer may still be running out; give it a moment.
  const deadline = Date.now() + waitMs
  for (;;) {
    const left = leakedHandles()
    if (left.length === 0 || Date.now() > deadline) return left
    // A timer that keeps the process up: the leftover may be the last handle, and once it has run
    // out an unref'd wait let the process exit mid-test ("test unfinished", a CI run of b1a35a5:
    // records/store.spec). It has fired by the next look, so it is never counted itself.
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export function leakedHandles (): string[] {
  // Beyond what the process held when this spec's tests began (test/helpers/specs.ts).
  return beyondBaseline(process.getActiveResourcesInfo()).filter((r) => ['Timeout', 'Immediate', 'TCPSocketWrap', 'TCPServerWrap'].includes(r))
}
