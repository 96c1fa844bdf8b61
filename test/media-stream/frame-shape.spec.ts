import t from 'tap'
import dgram from 'node:dgram'
import { once } from 'node:events'
import pino from 'pino'
import { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { FRAME_KEYS, FrameHistory, withVadSamples, type InboundFrame } from '../../lib/media/stream/inbound.ts'
import { FrameScheduler } from '../../lib/media/stream/scheduler.ts'
import { FakeClock } from './fake-clock.ts'

/**
 * Every frame we make has the same keys in the same order (issue 18): V8 then gives them one
 * hidden class and the code reading frames stays monomorphic. A spread (`{ ...frame, vadSamples }`)
 * made a hidden class per frame.
 */

t.test('a received frame, a pre-roll frame and a frame with vadSamples have the same keys, in order', async t => {
  const clock = new FakeClock()
  const ep = await MediaEndpoint.open({ rate: 8000, logger: pino({ level: 'silent' }), scheduler: new FrameScheduler({ clock, timers: clock }) })
  t.teardown(async () => { await ep.close() })
  const fs = dgram.createSocket('udp4')
  fs.bind(0, '127.0.0.1')
  await once(fs, 'listening')
  t.teardown(() => { fs.close() })
  const got = new Promise<InboundFrame>((resolve) => { ep.onFrame(resolve) })
  const datagram = Buffer.alloc(320)
  for (let i = 0; i < 160; i++) datagram.writeInt16LE(100 * (i % 7) - 300, i * 2)
  fs.send(datagram, ep.localAddress.port, '127.0.0.1')
  const received = await got
  t.same(Object.keys(received), FRAME_KEYS, 'the endpoint\'s frame')
  t.equal(received.vadSamples, undefined)

  const history = new FrameHistory(4)
  history.push(received)
  const [preRoll] = history.frames()
  t.same(Object.keys(preRoll ?? {}), FRAME_KEYS, 'the pre-roll\'s copy')

  const silent = new Int16Array(160)
  const forVad = withVadSamples(received, silent)
  t.same(Object.keys(forVad), FRAME_KEYS, 'the frame the echo guard silenced for the VAD')
  t.equal(forVad.vadSamples, silent, 'what the VAD hears')
  t.equal(forVad.samples, received.samples, 'the caller\'s audio, for the recogniser, as it came')
  t.same([forVad.sampleRate, forVad.seq, forVad.mediaMs, forVad.receivedAt], [received.sampleRate, received.seq, received.mediaMs, received.receivedAt])
  t.equal(received.vadSamples, undefined, 'the received frame is left as it was')
})
