import { UnsafeValueError } from '../errors.ts'

/**
 * The Event Socket protocol is line-based: a header ends at LF and a blank line ends the command
 * (mod_event_socket.c read_packet). A CR or LF inside a value would let whoever controls that
 * value (a caller ID, a transcript, a model's tool call) append headers or whole commands of
 * their own, e.g. `\n\nsendmsg\ncall-command: execute\nexecute-app-name: bridge...`. So every
 * value bound for an ESL command goes through here and is refused, never "cleaned": a value that
 * needed cleaning was not what the code meant to send.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/

export function assertEslValue (what: string, value: string): string {
  if (CONTROL.test(value)) throw new UnsafeValueError(what)
  return value
}

/** Header names and command words: a narrower alphabet than values. */
export function assertEslToken (what: string, value: string): string {
  if (!/^[A-Za-z0-9_+.:-]{1,128}$/.test(value)) throw new UnsafeValueError(what)
  return value
}

/** Strip control characters for display and logs (never for anything that is executed). */
export function printable (value: string, max = 256): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\x00-\x1f\x7f]/g, '').slice(0, max)
}
