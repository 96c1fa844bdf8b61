import t, { type Test } from 'tap'
import dgram from 'node:dgram'
import type { Logger } from 'pino'
import { once } from 'node:events'
import { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { watchUnicastStart } from '../../lib/call/stream/unicast-start.ts'
import type { Channel } from '../../lib/freeswitch/channel.ts'
import { captureLogs, type LogRecord } from '../helpers/logs.ts'

// watchUnicastStart (lib/call/stream/unicast-start.ts) on its own: a real endpoint, FreeSWITCH's
// side played by a UDP socket, a channel that records what we ask of it.

function fakeChannel (): { channel: Channel, sent: Array<Record<string, string>>, hangUp: () => void } {
  const over = new AbortController()
  const sent: Array<Record<string, string>> = []
  const channel = { signal: over.signal, async sendmsg (headers: Record<string, string>) { sent.push(headers) } } as unknown as Channel
  return { channel, sent, hangUp: () => { over.abort() } }
}

async function freeswitchSide (): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4')
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  return socket
}

const config = { freeswitchAddress: '127.0.0.1', freeswitchPorts: undefined }

interface WatchedStream {
  readonly fs: dgram.Socket
  readonly ep: MediaEndpoint
  readonly logger: Logger
  readonly records: LogRecord[]
  readonly channel: Channel
  readonly sent: Array<Record<string, string>>
  readonly hangUp: () => void
}

/** FreeSWITCH's side, an endpoint told its port, a fake channel: all closed when the test ends. */
async function watchedStream (t: Test): Promise<WatchedStream> {
  const { logger, records } = captureLogs()
  const fs = await freeswitchSide()
  t.teardown(() => { fs.close() })
  const ep = await MediaEndpoint.open({ rate: 8000, logger, peer: { address: '127.0.0.1', port: fs.address().port }, mux: undefined })
  t.teardown(async () => { await ep.close() })
  const { channel, sent, hangUp } = fakeChannel()
  t.teardown(hangUp)
  return { fs, ep, logger, records, channel, sent, hangUp }
}

t.test('a datagram that came in time but waits behind a stalled event loop is not taken for silence', async (t) => {
  const { fs, ep, logger, records, channel, sent } = await watchedStream(t)
  const watched = watchUnicastStart({ channel, endpoint: ep, config, log: logger, firstPort: fs.address().port, waitMs: 100 })
  await new Promise<void>((resolve) => { fs.send(Buffer.alloc(320, 0xff), ep.advertisedAddress.port, '127.0.0.1', () => { resolve() }) })
  // The loop stalls past the watch's deadline with FreeSWITCH's first datagram unread in the socket.
  const until = Date.now() + 300
  while (Date.now() < until) { /* a stall */ }
  t.equal(await watched, undefined, 'the stream started')
  t.ok(ep.flowing)
  t.same(sent, [], 'FreeSWITCH was not asked again')
  t.notOk(records.some((l) => l.level >= 40), 'no warning')
})

t.test('silence past the wait: asked again from another port, then a failure naming both', async (t) => {
  const { fs, ep, logger, records, channel, sent } = await watchedStream(t)
  const failure = await watchUnicastStart({ channel, endpoint: ep, config, log: logger, firstPort: fs.address().port, waitMs: 50 })
  t.equal(sent.length, 1, 'one more unicast')
  const second = Number(sent[0]?.['local-port'])
  t.not(second, fs.address().port, 'from another port')
  t.equal(sent[0]?.['remote-port'], String(ep.advertisedAddress.port), 'to where the endpoint is now')
  t.same(ep.peer, { address: '127.0.0.1', port: second }, 'the endpoint waits for that port')
  t.equal(failure?.code, 'MEDIA_STREAM_FAILED')
  t.match(failure?.message, new RegExp(`port ${fs.address().port}, then ${second} to 127\\.0\\.0\\.1:${ep.advertisedAddress.port}`))
  t.equal(records.filter((l) => l.level === 40).length, 1, 'one warning, at the second ask')
})

t.test('the call ends during the wait: nothing more is asked, no failure', async (t) => {
  const { fs, ep, logger, channel, sent, hangUp } = await watchedStream(t)
  const watched = watchUnicastStart({ channel, endpoint: ep, config, log: logger, firstPort: fs.address().port, waitMs: 5000 })
  setTimeout(hangUp, 20)
  t.equal(await watched, undefined)
  t.same(sent, [])
})
