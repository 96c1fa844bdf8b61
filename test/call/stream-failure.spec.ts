import t from 'tap'
import { StreamSession } from '../../lib/call/stream/session.ts'
import { buildConfig } from '../../lib/config/load.ts'
import type { Channel } from '../../lib/freeswitch/channel.ts'
import type { PhoneAgentError } from '../../lib/errors.ts'
import { captureLogs } from '../helpers/logs.ts'

// A StreamSession whose `unicast` FreeSWITCH never starts (here nobody ever sends): after the
// second ask it is given up (lib/call/stream/unicast-start.ts), and every use of it says why.

t.test('a stream given up: listeners told (those before and after), every later use throws the failure', async (t) => {
  const over = new AbortController()
  t.teardown(() => { over.abort() })
  const sent: Array<Record<string, string>> = []
  const channel = { signal: over.signal, data: { headers: {} }, async sendmsg (h: Record<string, string>) { sent.push(h) } } as unknown as Channel
  const config = buildConfig({ media: { mode: 'stream', stream: { sockets: 'per-call' } } }, process.cwd()).media.stream
  const { logger } = captureLogs()
  const session = await StreamSession.start(channel, config, logger)
  t.teardown(async () => { await session.close() })
  const early: PhoneAgentError[] = []
  const stop = session.onFailure((f) => { early.push(f) })
  const unsubscribed: PhoneAgentError[] = []
  session.onFailure((f) => { unsubscribed.push(f) })()
  const given = await new Promise<PhoneAgentError>((resolve) => { session.onFailure(resolve) })
  t.equal(given.code, 'MEDIA_STREAM_FAILED')
  t.equal(sent.length, 2, 'asked twice')
  t.same(early, [given], 'a listener from before is told once')
  t.same(unsubscribed, [], 'an unsubscribed one is not')
  stop()
  let late: PhoneAgentError | undefined
  session.onFailure((f) => { late = f })
  t.equal(late, undefined, 'one from after is told in a microtask, not during the call')
  await Promise.resolve()
  t.equal(late, given, 'and then told')
  t.equal(session.failure, given)
  t.throws(() => { session.throwIfFailed() }, given)
  await t.rejects(session.play(new Int16Array(160), 8000, over.signal), given, 'a prompt fails with it')
  t.equal(session.closedError(), given)
  t.ok(session.endpoint.closed, 'the socket is released')
})
