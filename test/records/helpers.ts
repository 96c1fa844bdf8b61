import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'

/** A pino logger writing parsed records to an array, so tests assert on whole log lines. */
export function logSink (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    },
  })
  return { logger: pino({ level: 'debug' }, stream), lines }
}

/** A string sink with the `write` shape the CLI takes. */
export function textSink (): { out: { write (s: string): void }, text: () => string } {
  let buf = ''
  return { out: { write (s: string) { buf += s } }, text: () => buf }
}

/** Handles a finished test must not leave behind (timers, immediates, sockets, servers). */
export function leakedHandles (): string[] {
  return process.getActiveResourcesInfo().filter((r) => ['Timeout', 'Immediate', 'TCPSocketWrap', 'TCPServerWrap'].includes(r))
}
