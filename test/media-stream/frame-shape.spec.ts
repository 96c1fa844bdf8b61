import t from 'tap'
import { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { FRAME_KEYS, FrameHistory, withVadSamples, type InboundFrame } from '../../lib/media/stream/inbound.ts'
import { fakeSwitch } from './fake-switch.ts'

/**
 * Every frame we make has the same keys in the same order (issue 18): V8 then gives them one
 * hidden class and the code reading frames stays monomorphic. A spread (`{ ...frame, vadSamples }`)
 * made a hidden class per frame.
 */

t.test('a received frame, a pre-roll frame and a frame with vadSamples have the same keys, in order', async t => {
  const fs = await fakeSwitch()
  const ep = await MediaEndpoint.open({ rate: 8000, logger: fs.logger, scheduler: fs.scheduler })
  t.teardown(async () => { await ep.close(); fs.close() })
  const got = new Promise<InboundFrame>((resolve) => { ep.onFrame(resolve) })
  const datagram = Buffer.alloc(320)
  for (let i = 0; i < 160; i++) datagram.writeInt16LE(100 * (i % 7) - 300, i * 2)
  await fs.send(datagram, ep.localAddress.port)
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
