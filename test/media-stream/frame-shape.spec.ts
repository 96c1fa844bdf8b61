import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
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

// V8 lays out a hidden class's number fields as small integers (Smi) or doubles, from the first
// values stored. The endpoint's seq and mediaMs are small integers, the pre-roll's copies read
// them back from a Float64Array as heap numbers: had the first pre-roll widened the fields, every
// frame made before it would have a deprecated hidden class, and in the load bench the endpoint
// went on making frames with it (inbound.ts says what that cost). A child process with
// `--trace-generalization` makes frames all three ways, after a full GC, and must report no field
// widened from Smi to double. The child runs under tsx: with the suite's light loader Node 20's V8 aborts
// printing that trace (AbstractCode::SourcePosition, a function it cannot place).
const fakeSwitchModule = fileURLToPath(new URL('./fake-switch.ts', import.meta.url))
const endpointModule = fileURLToPath(new URL('../../lib/media/stream/endpoint.ts', import.meta.url))
const inboundModule = fileURLToPath(new URL('../../lib/media/stream/inbound.ts', import.meta.url))

t.test('no frame field is widened from a small integer to a double: no frame gets a deprecated hidden class', async (t) => {
  const script = `
    const { fakeSwitch } = await import(${JSON.stringify(fakeSwitchModule)})
    const { MediaEndpoint } = await import(${JSON.stringify(endpointModule)})
    const { FrameHistory, withVadSamples } = await import(${JSON.stringify(inboundModule)})
    // A full GC before the first frame, as the load bench forces between its steps: V8 drops a
    // hidden class no object has any more (inbound.ts FIRST_FRAME).
    globalThis.gc()
    globalThis.gc()
    const fs = await fakeSwitch()
    const ep = await MediaEndpoint.open({ rate: 8000, logger: fs.logger, scheduler: fs.scheduler })
    const history = new FrameHistory(30)
    let got = 0
    let sum = 0
    ep.onFrame((frame) => {
      got++
      history.push(frame)
      sum += frame.seq + frame.mediaMs + withVadSamples(frame, frame.samples).seq
      if (got % 10 === 0) for (const f of history.frames()) sum += f.seq + f.mediaMs + f.receivedAt
    })
    const datagram = Buffer.alloc(320)
    for (let i = 0; i < 160; i++) datagram.writeInt16LE(100 * (i % 7) - 300, i * 2)
    for (let round = 0; round < 4; round++) {
      const want = got + 20
      for (let i = 0; i < 20; i++) await fs.send(datagram, ep.localAddress.port)
      while (got < want) await new Promise((resolve) => setTimeout(resolve, 2))
    }
    await ep.close()
    fs.close()
    // On stderr: V8's trace goes to stdout through C's buffered stdio, which splits Node's lines.
    console.error('frames ' + got + ' ' + (sum > 0))
  `
  const [out, said] = await new Promise<[string, string]>((resolve, reject) => {
    execFile(process.execPath, ['--trace-generalization', '--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) { reject(err); return }
      resolve([stdout, stderr])
    })
  })
  t.match(said, /^frames 80 true$/m, 'the child made and read its frames')
  const widened = out.split('\n').filter((line) => /\b(seq|mediaMs|receivedAt):s\{[^}]*\}->d/.test(line))
  t.same(widened, [], 'no Smi field of a frame widened to a double')
})
