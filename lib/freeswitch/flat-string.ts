import { pino, type Logger } from 'pino'

/**
 * `text` as one flat string. V8 keeps `a + b` as a pair pointing at both halves (a "cons"
 * string, 32 bytes), and a string built piece by piece as a tree of them: a call's esl ULID was 6
 * pairs and 6 pieces (~230 B) for 26 characters, its logger's bindings ten strings (~350 B) for
 * ~75 (issue 18, load-heap's snapshots). Kept for the whole call, the flat copy is 40-100 B and
 * the tree is freed, unless something else still holds its pieces.
 * A JSON round trip: exact for any string (lone surrogates included) and never optimised away,
 * as a bare `Number(text)`, which flattens in place, could be once the result is unused.
 * Only for strings made once a call and kept: it costs a copy.
 */
export function flatString (text: string): string {
  return JSON.parse(JSON.stringify(text)) as string
}

const { chindingsSym } = pino.symbols

/**
 * A per-call logger with its own bindings as one flat string: pino joins them with `+`
 * (asChindings: the pid, the host, `,"call":`, the UUID in two halves...). Its children extend
 * the flat string (pino.symbols is pino's way in for integrations). Returns `log`.
 */
export function flatBindings (log: Logger): Logger {
  const own = log as unknown as Record<symbol, unknown>
  const bindings = own[chindingsSym]
  if (typeof bindings === 'string' && Object.hasOwn(own, chindingsSym)) own[chindingsSym] = flatString(bindings)
  return log
}
