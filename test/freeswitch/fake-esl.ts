import { EventEmitter } from 'node:events'
import { Channel } from '../../lib/freeswitch/channel.ts'
import { parseChannelData } from '../../lib/freeswitch/channel-data.ts'
import { captureLogs } from '../helpers/logs.ts'

/** esl's connection as Channel uses it: events, send, end (no api: uuid_break fails, as on a closing socket). */
export class FakeEsl extends EventEmitter {
  closed = false
  readonly sent: string[] = []
  async send (command: string): Promise<void> { this.sent.push(command) }
  end (): void {}
}

/** A Channel on `esl`, for a call with a fixed UUID. */
export function channelOn (esl: FakeEsl): Channel {
  const data = parseChannelData({ 'Unique-ID': '6f0c8e2a-1b2c-4d3e-8f90-a1b2c3d4e5f6', 'Channel-Name': 'sofia/external/x' })
  return new Channel(esl as never, data, { commandTimeoutMs: 1000, lingerMs: 100, logger: captureLogs().logger })
}
