import dgram from 'node:dgram'
import { once } from 'node:events'
import type { Logger } from 'pino'
import { FrameScheduler } from '../../lib/media/stream/scheduler.ts'
import { captureLogs } from '../helpers/logs.ts'
import { FakeClock } from './fake-clock.ts'

/** FreeSWITCH's end of a unicast stream (a UDP socket that keeps what we send) and a scheduler on a fake clock. */
export interface FakeSwitch {
  readonly logger: Logger
  readonly clock: FakeClock
  readonly scheduler: FrameScheduler
  readonly received: Buffer[]
  /** Where FreeSWITCH sends from: the endpoint's `peer`. */
  readonly peer: { readonly address: string, readonly port: number }
  /** Send one of FreeSWITCH's frames to `port`. */
  send: (frame: Buffer, port: number) => Promise<void>
  close: () => void
}

export async function fakeSwitch (): Promise<FakeSwitch> {
  const { logger } = captureLogs()
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock })
  const socket = dgram.createSocket('udp4')
  const received: Buffer[] = []
  socket.on('message', (msg) => { received.push(msg) })
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  return {
    logger,
    clock,
    scheduler,
    received,
    peer: { address: '127.0.0.1', port: socket.address().port },
    send: async (frame, port) => { await new Promise<void>((resolve, reject) => { socket.send(frame, port, '127.0.0.1', (err) => { if (err) reject(err); else resolve() }) }) },
    close: () => { socket.close() },
  }
}
