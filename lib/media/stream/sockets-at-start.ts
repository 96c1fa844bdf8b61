import type { Logger } from 'pino'
import { sharedSocketUnavailable, sharedUdpMux } from './shared-mux.ts'
import type { StreamConfig } from './config.ts'

/**
 * At start-up, for a service that streams media: with `sockets: shared`, open the process's shared
 * socket now, so a port that cannot be bound stops the service here, naming the field, and not
 * at the first call; or say once why calls will get a socket each.
 */
export function openMediaSockets (stream: Pick<StreamConfig, 'sockets' | 'bindAddress' | 'ports' | 'realtimeSend'>, log: Logger): 'shared' | 'per-call' {
  if (stream.sockets === 'per-call') return 'per-call'
  const why = sharedSocketUnavailable(stream.bindAddress)
  if (why !== undefined) {
    log.warn({ field: 'media.stream.sockets', why }, 'media: a UDP socket per call instead of one shared socket (more CPU per call)')
    return 'per-call'
  }
  const mux = sharedUdpMux(stream.bindAddress, stream.ports, stream.realtimeSend)
  const realtime = mux?.stats.held.realtime === true
  log.info({ address: mux?.address, port: mux?.port, realtimeSend: realtime }, 'media: every call\'s audio through one shared UDP socket')
  // Asked for and refused: the held frames still go, at normal priority (late when the cores are busy).
  if (stream.realtimeSend && mux?.holds === true && !realtime) {
    log.info({ field: 'media.stream.realtimeSend' }, 'media: no realtime priority for the thread that sends held frames (needs root, CAP_SYS_NICE or RLIMIT_RTPRIO >= 1; docs/operations.md "Realtime priority for held frames")')
  }
  return 'shared'
}

/** For `phone-agent check`: which media sockets stream mode would use, and why not the shared one if it was asked for. */
export function describeMediaSockets (stream: Pick<StreamConfig, 'sockets' | 'bindAddress'>): string {
  if (stream.sockets === 'per-call') return 'media sockets: one per call (media.stream.sockets: per-call)'
  const why = sharedSocketUnavailable(stream.bindAddress)
  return why === undefined
    ? 'media sockets: one shared batched socket per process (media.stream.sockets: shared)'
    : `media sockets: one per call, not the shared one (media.stream.sockets): ${why}`
}
