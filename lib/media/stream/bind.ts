import dgram from 'node:dgram'
import type { Logger } from 'pino'
import { PhoneAgentError, abortReason } from '../../errors.ts'

/** A fixed port (0 = ephemeral) or an inclusive range to take a free port from. */
export type PortChoice = number | { readonly min: number, readonly max: number }

// Enough tries to find a free port in a busy range without scanning thousands of them.
const MAX_TRIES = 32

export async function bindSocket (type: 'udp4' | 'udp6', address: string, port: PortChoice, signal?: AbortSignal): Promise<dgram.Socket> {
  if (typeof port === 'number') {
    try {
      return await bindOnce(type, address, port, signal)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
      throw new PhoneAgentError('CONFIG_INVALID', `unicast: port ${port} on ${address} is in use`, { cause: err })
    }
  }
  let lastError: unknown
  for (const candidate of portsToTry(port)) {
    try {
      return await bindOnce(type, address, candidate, signal)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
      lastError = err
    }
  }
  // A range too small for the concurrent calls is a configuration problem.
  throw new PhoneAgentError('CONFIG_INVALID', `unicast: no free UDP port in ${port.min}-${port.max}`, { cause: lastError })
}

/**
 * The ports to try binding, in order: the one fixed port, or up to MAX_TRIES of a range from a
 * random start, so concurrent binds spread over the range instead of all racing for `min`.
 */
export function * portsToTry (port: PortChoice): Generator<number> {
  if (typeof port === 'number') {
    yield port
    return
  }
  const { min, max } = port
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
    throw new PhoneAgentError('CONFIG_INVALID', `unicast: bad port range ${min}-${max}`)
  }
  const span = max - min + 1
  const start = Math.floor(Math.random() * span)
  for (let i = 0; i < Math.min(span, MAX_TRIES); i++) yield min + (start + i) % span
}

function bindOnce (type: 'udp4' | 'udp6', address: string, port: number, signal?: AbortSignal): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) { reject(abortReason(signal)); return }
    const socket = dgram.createSocket({ type, reuseAddr: false })
    const onAbort = (): void => { cleanup(); socket.close(); reject(abortReason(signal as AbortSignal)) }
    const onError = (err: NodeJS.ErrnoException): void => {
      cleanup()
      socket.close()
      if (err.code === 'EADDRINUSE') { reject(err); return }
      reject(new PhoneAgentError('CONFIG_INVALID', `unicast: cannot bind ${address}:${port} (${err.code ?? err.message})`, { cause: err }))
    }
    const cleanup = (): void => {
      socket.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
    }
    socket.once('error', onError)
    signal?.addEventListener('abort', onAbort, { once: true })
    // exclusive: in a cluster worker (server.workers > 1) a plain bind goes through the primary,
    // which hands every worker asking for the same address and port one shared socket: the
    // kernel would then deliver one call's audio to whichever process reads first.
    socket.bind({ port, address, exclusive: true }, () => { cleanup(); resolve(socket) })
  })
}

/** Connect `socket` to `peer`: true once connected, false when the connect failed (sends then carry the address). */
export async function connectSocket (socket: dgram.Socket, peer: { readonly address: string, readonly port: number }, logger: Logger): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    try {
      // Node calls this with the error when the connect fails, with nothing when it is done.
      socket.connect(peer.port, peer.address, (err?: Error) => {
        if (err !== undefined && err !== null) logger.debug({ err }, 'unicast socket connect failed: sending with the address')
        resolve(err === undefined || err === null)
      })
    } catch (err) {
      logger.debug({ err }, 'unicast socket connect failed: sending with the address')
      resolve(false)
    }
  })
}
