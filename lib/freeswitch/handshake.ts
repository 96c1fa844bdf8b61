import type { Socket } from 'node:net'
import { isPhoneAgentError } from '../errors.ts'

/**
 * The limits on one Event Socket connection between accept and a finished setup (connect reply
 * read, filters, `linger` and the event subscription answered). A real FreeSWITCH answers all of
 * that within milliseconds; a peer that does not (a stalled switch, a process that is not
 * FreeSWITCH, a byte-a-second client) must not keep a file descriptor for as long as it likes.
 */

/** Why a handshake was given up; the label of `phone_agent_handshake_failed_total`. */
export const HANDSHAKE_FAILURES = [
  /** Too many connections were already in handshake: closed at accept. */
  'over_capacity',
  /** The handshake deadline passed. */
  'timeout',
  /** More bytes than any connect reply needs. */
  'too_large',
  /** The peer closed or reset the connection. */
  'closed',
  /** The connect reply had no usable Unique-ID: refused (hung up) without a record. */
  'invalid_reply',
  /** FreeSWITCH answered a setup command with -ERR. */
  'refused',
] as const
export type HandshakeFailure = typeof HANDSHAKE_FAILURES[number]

export interface HandshakeFailed {
  readonly reason: HandshakeFailure
  /** The channel's UUID when the connect reply was usable (its call then has a record). */
  readonly uuid?: string | undefined
}

/**
 * FreeSWITCH's connect reply is one serialized CHANNEL_DATA event (mod_event_socket.c
 * parse_command "connect"), a few KB even with every SIP header as a variable. Anything near a
 * megabyte is not a handshake; esl would buffer it all.
 */
export const MAX_HANDSHAKE_BYTES = 1024 * 1024

/**
 * Watches one connection's handshake: a deadline and a byte budget. A breach, or any failure,
 * destroys the socket: not `end()`, whose half-close leaves the descriptor open until a peer
 * that stopped cooperating decides to close its side. Settles exactly once.
 */
export class HandshakeWatch {
  // What only the handshake needs is let go when it settles: the server holds the watch for as
  // long as the call lasts, and the timer, the callbacks and their closures were ~0.4 KB a call.
  #socket: Socket | undefined
  #timer: NodeJS.Timeout | undefined
  #bytes = 0
  #breach: HandshakeFailure | undefined
  #settled = false
  #onSettled: ((failure: HandshakeFailure | undefined) => void) | undefined
  /** Set in the constructor: a class field's arrow gets a `name` of its own under tsx (esbuild's keepNames), a 256-byte dictionary per call. */
  #onData: ((chunk: Buffer) => void) | undefined

  constructor (socket: Socket, timeoutMs: number, onSettled: (failure: HandshakeFailure | undefined) => void) {
    this.#onData = (chunk) => {
      this.#bytes += chunk.length
      if (this.#bytes > MAX_HANDSHAKE_BYTES) this.#breached('too_large')
    }
    this.#socket = socket
    this.#onSettled = onSettled
    this.#timer = setTimeout(() => { this.#breached('timeout') }, timeoutMs)
    socket.on('data', this.#onData)
  }

  get settled (): boolean { return this.#settled }

  /** The handshake finished: the connection is a call now, and no longer limited here. */
  done (): void {
    this.#settle()?.onSettled(undefined)
  }

  /**
   * The handshake failed: destroy the socket. A breach we caused (deadline, size) names the
   * failure, whatever error the pending command saw as a consequence.
   */
  fail (reason: HandshakeFailure): void {
    const failure = this.#breach ?? reason
    const held = this.#settle()
    if (held === undefined) return
    held.socket.destroy()
    held.onSettled(failure)
  }

  #breached (reason: HandshakeFailure): void {
    if (this.#settled) return
    this.#breach = reason
    // The pending esl command rejects on the close; its handler calls fail(), which reports.
    // Reported here as well in case nothing is pending at this instant.
    this.fail(reason)
  }

  /** Settle once: what the caller still needs to report it, or undefined when settled before. */
  #settle (): { socket: Socket, onSettled: (failure: HandshakeFailure | undefined) => void } | undefined {
    const socket = this.#socket
    const onSettled = this.#onSettled
    if (this.#settled || socket === undefined || onSettled === undefined) return undefined
    this.#settled = true
    clearTimeout(this.#timer)
    if (this.#onData !== undefined) socket.removeListener('data', this.#onData)
    this.#socket = undefined
    this.#timer = undefined
    this.#onSettled = undefined
    this.#onData = undefined
    return { socket, onSettled }
  }
}

/** Which failure a rejected setup command means (the watch's own breach wins, see fail()). */
export function setupFailure (err: unknown): HandshakeFailure {
  if (isPhoneAgentError(err, 'ESL_COMMAND_FAILED')) return 'refused'
  if (isPhoneAgentError(err, 'ESL_TIMEOUT')) return 'timeout'
  return 'closed'
}
