import t from 'tap'
import { SileroRunner } from '../../lib/media/vad/silero-runner.ts'
import { SileroVad, type SileroVadOptions } from '../../lib/media/vad/silero-vad.ts'
import { loadSileroModel, namesByShape, type OnnxSileroModel } from '../../lib/media/vad/silero-model.ts'
import { VadEngine, describeVadEngine } from '../../lib/media/vad/engine.ts'
import { vadSchema } from '../../lib/media/vad/config.ts'
import { Vad, type VadEvent, type VoiceDetector } from '../../lib/media/vad/vad.ts'
import { captureLogs } from '../helpers/logs.ts'
import { FakeSileroModel } from './silero-fake.ts'
import * as s from './signals.ts'

// The Silero-backed detector: gate, veto, events, slots; the engine choice and its fallback;
// the real model when onnxruntime-node loads here.

async function run (signal: Int16Array, rate: number, vad: VoiceDetector, runner: SileroRunner): Promise<VadEvent[]> {
  const events: VadEvent[] = []
  const frames = s.frames(signal, rate)
  for (const [i, f] of frames.entries()) {
    const e = vad.push(f, i * 20)
    if (e !== undefined) events.push(e)
    await runner.tick()
  }
  return events
}

function detector (runner: SileroRunner, rate: number, options: Partial<SileroVadOptions> = {}): SileroVad {
  return new SileroVad(runner.open(rate), { rate, ...options })
}

for (const rate of [8000, 16000]) {
  const q = s.silence(rate, 1)

  t.test(`${rate} Hz: silent and idle calls never reach the model`, async (t) => {
    const model = new FakeSileroModel()
    const runner = new SileroRunner({ model, autoTick: false })
    const vad = detector(runner, rate)
    t.same(await run(s.concat([s.silence(rate, 5), s.whiteNoise(rate, 5, -60)]), rate, vad, runner), [])
    t.equal(model.calls.length, 0, 'no inference for silence or a quiet line')
    t.equal(runner.slots, 0, 'no slot held')
    await runner.close()
  })

  t.test(`${rate} Hz: tones never activate the model, and are vetoed inside speech`, async (t) => {
    const model = new FakeSileroModel(() => 0.99) // a model that calls everything speech
    const runner = new SileroRunner({ model, autoTick: false })
    const tones = s.concat([
      s.tones(rate, 6, [425], -15, { on: 1, off: 4 }),
      s.tones(rate, 6, [440, 480], -15, { on: 2, off: 4 }),
      s.dtmf(rate, '1234567890*#', -10),
      s.dtmf(rate, '5555', -10, 400, 100),
    ])
    t.same(await run(tones, rate, detector(runner, rate), runner), [], 'no speech from ringback or DTMF')
    // At 16 kHz the classic features see a tone's first frame (the 40 Hz beat of 440+480 Hz)
    // and the decimation filter's tail after a DTMF press as loud non-tone frames: each
    // activates the model for one hold. At 8 kHz no tone frame gets past the gate.
    const windows = tones.length / (rate === 8000 ? 256 : 512)
    if (rate === 8000) t.equal(model.calls.length, 0, 'and no inference')
    else t.ok(model.calls.length < windows / 10, `and few inferences (${model.calls.length} of ${Math.round(windows)} windows)`)
    await runner.close()
  })

  t.test(`${rate} Hz: speech starts and ends, a tick after the model judged it`, async (t) => {
    const model = new FakeSileroModel()
    const runner = new SileroRunner({ model, autoTick: false })
    const vad = detector(runner, rate)
    const events = await run(s.concat([q, s.speechLike(rate, 3, -20), q]), rate, vad, runner)
    t.same(events.map((e) => e.type), ['speech-start', 'speech-end'])
    const [start, end] = events
    if (start?.type === 'speech-start') {
      t.ok(start.at >= 960 && start.at <= 1100, `starts near 1 s (got ${start.at})`)
      t.ok(start.detectedAt - start.at >= 200, 'after the minimum speech')
    }
    if (end?.type === 'speech-end') {
      t.ok(end.endAt >= 3900 && end.endAt <= 4100, `ends near 4 s (got ${end.endAt})`)
      t.ok(end.detectedAt - end.endAt >= 500, 'after the end silence')
      t.ok(end.voicedMs > 1500)
    }
    t.equal(runner.slots, 0, 'the slot is given back after the hold')
    t.ok(model.calls.length > 50 && model.calls.length < 150, `only the active stretch is judged (${model.calls.length} windows)`)
    await runner.close()
  })

  t.test(`${rate} Hz: end silence and minimum speech are honoured`, async (t) => {
    const runner = new SileroRunner({ model: new FakeSileroModel(), autoTick: false })
    const speech = s.concat([q, s.speechLike(rate, 2, -20), q])
    const end = (await run(speech, rate, detector(runner, rate, { endSilenceMs: 300 }), runner)).find((e) => e.type === 'speech-end')
    t.ok(end !== undefined && end.detectedAt - end.endAt >= 300 && end.detectedAt - end.endAt < 420, 'declared after 300 ms, within two windows and a tick')
    const mm = s.concat([q, s.speechLike(rate, 0.12, -20, { seed: 11 }), q])
    t.same(await run(mm, rate, detector(runner, rate), runner), [], 'a 120 ms "mm" is below the minimum')
    await runner.close()
  })
}

t.test('close() and the call\'s signal free the slot; later frames still get answers', async (t) => {
  const runner = new SileroRunner({ model: new FakeSileroModel(), autoTick: false })
  const speech = s.frames(s.speechLike(8000, 1, -20), 8000)
  const ac = new AbortController()
  const vad = new SileroVad(runner.open(8000), { rate: 8000, signal: ac.signal })
  for (const [i, f] of speech.slice(0, 10).entries()) { vad.push(f, i * 20); await runner.tick() }
  t.equal(runner.slots, 1)
  ac.abort()
  t.equal(runner.slots, 0, 'aborted: slot freed')
  t.doesNotThrow(() => { for (const [i, f] of speech.slice(10).entries()) vad.push(f, 200 + i * 20) })
  vad.close()
  await runner.close()
})

t.test('a failing model: windows are judged by the classic verdict, the call goes on', async (t) => {
  const model = new FakeSileroModel()
  model.failNext = Infinity
  const errors: unknown[] = []
  const runner = new SileroRunner({ model, autoTick: false, onError: (e) => errors.push(e) })
  const events = await run(s.concat([s.silence(8000, 1), s.speechLike(8000, 2, -20), s.silence(8000, 1)]), 8000, detector(runner, 8000), runner)
  t.same(events.map((e) => e.type), ['speech-start', 'speech-end'])
  t.equal(errors.length, 1)
  await runner.close()
})

t.test('engine choice: classic by config; silero with its runner; fallback to classic with one warning', async (t) => {
  const { logger, records } = captureLogs('info')
  const classic = await VadEngine.start(vadSchema.parse({ engine: 'classic' }), logger)
  t.same(classic.status, { requested: 'classic', engine: 'classic' })
  t.ok(classic.create({ rate: 8000 }) instanceof Vad)
  await classic.close()

  const model = new FakeSileroModel()
  const silero = await VadEngine.start(vadSchema.parse({ engine: 'silero' }), logger, { model })
  t.equal(silero.status.engine, 'silero')
  const d = silero.create({ rate: 8000, endSilenceMs: 700 })
  t.ok(d instanceof SileroVad)
  t.ok(silero.runner?.timerActive === false)
  await silero.close()
  t.ok(model.closed, 'close frees the model')

  const missing = vadSchema.parse({ engine: 'silero', silero: { modelPath: '/nonexistent/silero.onnx' } })
  const fallback = await VadEngine.start(missing, logger)
  t.match(fallback.status, { requested: 'silero', engine: 'classic', fallbackReason: /no model file/ })
  t.ok(fallback.create({ rate: 8000 }) instanceof Vad)
  const warnings = records.filter((r) => r.level === 40)
  t.equal(warnings.length, 1, 'one warning')
  t.match(warnings[0], { msg: 'Silero VAD unavailable: using the classic detector', reason: /no model file/ })
  t.equal(await describeVadEngine(missing), 'VAD: classic detector (Silero requested but unavailable: no model file at /nonexistent/silero.onnx)')
  t.equal(await describeVadEngine(vadSchema.parse({ engine: 'classic' })), 'VAD: classic detector')
})

t.test('config: engine and silero settings validated', async (t) => {
  t.equal(vadSchema.parse({}).engine, 'silero', 'Silero by default (classic where it cannot load; docs/vad.md)')
  t.match(vadSchema.parse({}).silero, { threshold: 0.5, holdMs: 300, tickMs: 20, threads: 1, worker: true })
  t.throws(() => vadSchema.parse({ engine: 'webrtc' }))
  t.throws(() => vadSchema.parse({ silero: { threshold: 2 } }))
  t.throws(() => vadSchema.parse({ silero: { tresh: 0.5 } }), 'unknown keys are refused')
})

t.test('names found by shape; a model that is not Silero v5 is refused with what it has', async (t) => {
  const v5 = {
    inputMetadata: [{ name: 'input', isTensor: true, type: 'float32', shape: ['', ''] }, { name: 'state', isTensor: true, type: 'float32', shape: [2, '', 128] }, { name: 'sr', isTensor: true, type: 'int64', shape: [] }],
    outputMetadata: [{ name: 'output', isTensor: true, type: 'float32', shape: ['', 1] }, { name: 'stateN', isTensor: true, type: 'float32', shape: ['', '', ''] }],
  }
  t.same(namesByShape(v5), { input: 'input', state: 'state', sr: 'sr', output: 'output', stateOut: 'stateN' })
  const v4 = {
    inputMetadata: [{ name: 'input', isTensor: true, type: 'float32', shape: ['', ''] }, { name: 'sr', isTensor: true, type: 'int64', shape: [1] }, { name: 'h', isTensor: true, type: 'float32', shape: [2, '', 64] }, { name: 'c', isTensor: true, type: 'float32', shape: [2, '', 64] }],
    outputMetadata: [{ name: 'output', isTensor: true, type: 'float32', shape: ['', 1] }],
  }
  t.match(namesByShape(v4), /expected inputs .* found inputs input:float32\[,\] sr:int64\[1\] h:float32\[2,,64\]/)
})

// ---- the real model ----

const loaded = await loadSileroModel()
const skip = loaded.ok ? false : `Silero unavailable here: ${loaded.reason}`

t.test('the shipped model: names and shapes read from the file', { skip }, async (t) => {
  const model = (loaded as { model: OnnxSileroModel }).model
  t.same(model.info.names, { input: 'input', state: 'state', sr: 'sr', output: 'output', stateOut: 'stateN' })
  t.match(model.info.path, /@jjhbw\/silero-vad\/weights\/silero_vad\.onnx$/)
})

t.test('the shipped model: a batch gives each call what it would get alone', { skip }, async (t) => {
  const model = (loaded as { model: OnnxSileroModel }).model
  const runner = new SileroRunner({ model, autoTick: false })
  const signals = [s.speechLike(8000, 1, -20, { seed: 1 }), s.whiteNoise(8000, 1, -30, 2), s.speechLike(8000, 1, -25, { f0: 220, seed: 3 })]
  const windows = (x: Int16Array): Float32Array[] => {
    const out: Float32Array[] = []
    for (let i = 32; i + 256 <= x.length; i += 256) out.push(Float32Array.from(x.subarray(i - 32, i + 256), (v) => v / 32768))
    return out
  }
  const alone: number[][] = []
  for (const x of signals) {
    const stream = runner.open(8000)
    for (const w of windows(x)) { stream.submit(w); await runner.tick() }
    alone.push(stream.takeResults())
    stream.close()
  }
  const streams = signals.map(() => runner.open(8000))
  const ws = signals.map(windows)
  for (let k = 0; k < ws[0]!.length; k++) {
    streams.forEach((st, i) => { st.submit(ws[i]![k]!) })
    await runner.tick()
    t.equal(runner.stats.lastBatch, 3)
  }
  const batched = streams.map((st) => st.takeResults())
  for (let i = 0; i < 3; i++) {
    const diff = Math.max(...batched[i]!.map((p, k) => Math.abs(p - alone[i]![k]!)))
    t.ok(diff < 1e-4, `call ${i}: batched and alone agree (max difference ${diff.toExponential(1)})`)
  }
  t.ok(Math.max(...alone[0]!.slice(5)) > 0.5, 'speech-like audio reaches the speech threshold')
  t.ok(Math.max(...alone[1]!) < 0.5, 'white noise does not')
  streams.forEach((st) => { st.close() })
})

t.test('the shipped model on the repo\'s signals: speech found, tones, DTMF and noise not', { skip }, async (t) => {
  const model = (loaded as { model: OnnxSileroModel }).model
  const runner = new SileroRunner({ model, autoTick: false })
  for (const rate of [8000, 16000]) {
    const q = s.silence(rate, 1)
    const noisy = s.mix(s.concat([q, s.speechLike(rate, 3, -20), q]), s.whiteNoise(rate, 5, -45))
    t.same((await run(noisy, rate, detector(runner, rate), runner)).map((e) => e.type), ['speech-start', 'speech-end'], `${rate}: speech over line noise`)
    for (const [name, x] of [
      ['ringback over noise', s.mix(s.tones(rate, 10, [425], -20, { on: 1, off: 4 }), s.whiteNoise(rate, 10, -40))],
      ['DTMF', s.dtmf(rate, '1234567890*#', -10)],
      ['white noise', s.whiteNoise(rate, 6, -25)],
      ['low-passed noise', s.pinkishNoise(rate, 6, -30)],
      ['coughs', s.concat([q, s.cough(rate, 300, -15), q, s.cough(rate, 400, -10, 5), q])],
    ] as const) {
      t.same(await run(x, rate, detector(runner, rate), runner), [], `${rate}: ${name}`)
    }
  }
})

t.teardown(async () => {
  if (loaded.ok) await loaded.model.close()
})

t.test('the worker-thread model agrees with the in-thread one; a file that is not Silero v5 is refused', { skip }, async (t) => {
  const inThread = (loaded as { model: OnnxSileroModel }).model
  const worker = await loadSileroModel({ worker: true })
  if (!worker.ok) throw new Error(worker.reason)
  t.match(worker.model.info.runtime, /worker thread/)
  const x = s.speechLike(8000, 0.5, -20)
  const input = new Float32Array(2 * 288)
  for (let i = 0; i < 288; i++) { input[i] = (x[i] as number) / 32768; input[288 + i] = (x[1000 + i] as number) / 32768 }
  const state = new Float32Array(2 * 2 * 128)
  const a = await inThread.run(input, 2, 288, state, 8000)
  const b = await worker.model.run(input, 2, 288, state, 8000)
  t.ok(Math.abs(a.probs[0]! - b.probs[0]!) < 1e-6 && Math.abs(a.probs[1]! - b.probs[1]!) < 1e-6, 'same probabilities')
  t.ok(a.state.every((v, i) => Math.abs(v - b.state[i]!) < 1e-6), 'same state')
  await worker.model.close()
  await t.rejects(worker.model.run(input, 2, 288, state, 8000), /closed/, 'a closed model refuses work')
  // The package's fp16 variant has no `sr` input: found by shape, refused with what it has.
  const half = inThread.info.path.replace(/silero_vad\.onnx$/, 'silero_vad_half.onnx')
  for (const inWorker of [false, true]) {
    const other = await loadSileroModel({ path: half, worker: inWorker })
    t.match(other, { ok: false, reason: /is not a Silero VAD v5 model: expected inputs .* found inputs input:float32/ }, inWorker ? 'in a worker' : 'in thread')
  }
})

t.test('Silero (opt-in): in a worker when it loads here, and check says so', { skip }, async (t) => {
  const { logger, records } = captureLogs('info')
  const engine = await VadEngine.start(vadSchema.parse({ engine: 'silero' }), logger)
  t.match(engine.status, { requested: 'silero', engine: 'silero', model: /silero_vad\.onnx \(onnxruntime-node .* in a worker thread\)/ })
  t.match(records.find((r) => r.msg === 'Silero VAD loaded'), { worker: true, tickMs: 20 })
  const vad = engine.create({ rate: 8000 })
  const events: VadEvent[] = []
  const frames = s.frames(s.concat([s.silence(8000, 0.5), s.speechLike(8000, 1.5, -20), s.silence(8000, 1)]), 8000)
  for (const [i, f] of frames.entries()) {
    const e = vad.push(f, i * 20)
    if (e !== undefined) events.push(e)
    // Real time is not needed: let the runner's tick (its own timer here) and the worker answer.
    while ((vad as SileroVad).waiting > 1) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  t.same(events.map((e) => e.type), ['speech-start', 'speech-end'])
  vad.close()
  await engine.close()
  t.equal(engine.runner?.timerActive, false)
  t.match(await describeVadEngine(vadSchema.parse({ engine: 'silero' })), /^VAD: Silero v5 \(.*silero_vad\.onnx, onnxruntime-node .* in a worker thread\)$/)
  t.match(await describeVadEngine(vadSchema.parse({})), /^VAD: Silero v5 \(/, 'Silero by default')
})
