import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'

/**
 * A loopback gRPC server implementing `google.cloud.speech.v1.Speech` (Recognize,
 * StreamingRecognize) and `google.cloud.texttospeech.v1.TextToSpeech` (SynthesizeSpeech,
 * StreamingSynthesize) from
 * the .proto files the @google-cloud packages ship, so the real clients talk to it unchanged.
 * Each call takes the next scripted behaviour for its method.
 */

const require = createRequire(import.meta.url)
const speechProtos = join(dirname(require.resolve('@google-cloud/speech/package.json')), 'build', 'protos')
const ttsProtos = join(dirname(require.resolve('@google-cloud/text-to-speech/package.json')), 'build', 'protos')
// google-gax exports no package.json; its main is build/src/index.js, protos sit in build/protos.
const gaxProtos = join(dirname(require.resolve('google-gax')), '..', 'protos')

function load (root: string, file: string): grpc.GrpcObject {
  const definition = protoLoader.loadSync(join(root, file), {
    includeDirs: [root, gaxProtos],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  })
  return grpc.loadPackageDefinition(definition)
}

type Service = grpc.ServiceClientConstructor
function service (pkg: grpc.GrpcObject, path: string): Service['service'] {
  let node: unknown = pkg
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part]
  return (node as Service).service
}

export interface GrpcFailure { readonly code: grpc.status, readonly details: string }

/** What the server does with one call. */
export type Behaviour =
  | { readonly kind: 'fail', readonly error: GrpcFailure, readonly delayMs?: number }
  | { readonly kind: 'reply', readonly response: Record<string, unknown>, readonly delayMs?: number }
  /** Never answer: for deadlines and cancellation. */
  | { readonly kind: 'hang' }
  /**
   * StreamingRecognize: `respond` is called with every request message (the config first, then
   * audio) and returns the responses to send for it; `onEnd` answers the client's half-close.
   */
  | { readonly kind: 'stream', readonly respond: (request: Record<string, unknown>, index: number) => Array<Record<string, unknown>>,
    readonly onEnd?: () => Array<Record<string, unknown>> | GrpcFailure, readonly failAfter?: { readonly requests: number, readonly error: GrpcFailure } }
  /**
   * StreamingSynthesize: once the text arrives, each of `chunks` is sent as one
   * `{ audioContent }` message, `delayMs` apart (the first after `firstDelayMs`), then the call
   * ends. `hold` keeps the rest back after `afterChunks` messages until `until` settles;
   * `failAfter` ends the call with an error after that many messages.
   */
  | { readonly kind: 'audio', readonly chunks: readonly Buffer[], readonly delayMs?: number, readonly firstDelayMs?: number,
    readonly hold?: { readonly afterChunks: number, readonly until: Promise<unknown> },
    readonly failAfter?: { readonly chunks: number, readonly error: GrpcFailure } }

export type Method = 'recognize' | 'streamingRecognize' | 'synthesizeSpeech' | 'streamingSynthesize'

export class FakeGoogleServer {
  /** Request messages as the server decoded them, per method. */
  readonly requests: Record<Method, Array<Record<string, unknown>>> = { recognize: [], streamingRecognize: [], synthesizeSpeech: [], streamingSynthesize: [] }
  /** Metadata of every call (to check the api key header). */
  readonly metadata: grpc.Metadata[] = []
  /** Calls whose client cancelled (a deadline or an abort) before we answered. */
  cancelled = 0
  /** Calls in progress on the server side. */
  active = 0
  /** StreamingSynthesize audio messages written so far, over all calls. */
  audioChunksSent = 0
  readonly #server = new grpc.Server()
  readonly #script: Record<Method, Behaviour[]> = { recognize: [], streamingRecognize: [], synthesizeSpeech: [], streamingSynthesize: [] }
  readonly #timers = new Set<NodeJS.Timeout>()
  #port = 0

  private constructor () {
    const speech = load(speechProtos, 'google/cloud/speech/v1/cloud_speech.proto')
    const tts = load(ttsProtos, 'google/cloud/texttospeech/v1/cloud_tts.proto')
    const unimplemented = (_call: unknown, cb: grpc.sendUnaryData<unknown>): void => { cb({ code: grpc.status.UNIMPLEMENTED, details: 'fake' }) }
    this.#server.addService(service(speech, 'google.cloud.speech.v1.Speech'), {
      recognize: this.#unary('recognize'),
      streamingRecognize: this.#bidi.bind(this),
      longRunningRecognize: unimplemented,
    })
    this.#server.addService(service(tts, 'google.cloud.texttospeech.v1.TextToSpeech'), {
      synthesizeSpeech: this.#unary('synthesizeSpeech'),
      listVoices: unimplemented,
      streamingSynthesize: this.#synthesizeStream.bind(this),
    })
  }

  static async start (): Promise<FakeGoogleServer> {
    const fake = new FakeGoogleServer()
    fake.#port = await new Promise<number>((resolve, reject) => {
      fake.#server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => { if (err) reject(err); else resolve(port) })
    })
    return fake
  }

  get port (): number { return this.#port }

  script (method: Method, ...behaviours: Behaviour[]): void {
    this.#script[method].push(...behaviours)
  }

  async close (): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    this.#server.forceShutdown()
  }

  #later (ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.#timers.delete(t); fn() }, ms)
    this.#timers.add(t)
  }

  #next (method: Method): Behaviour {
    return this.#script[method].shift() ?? { kind: 'fail', error: { code: grpc.status.INTERNAL, details: `fake: nothing scripted for ${method}` } }
  }

  #unary (method: Method) {
    return (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
      this.requests[method].push(call.request)
      this.metadata.push(call.metadata)
      this.active++
      let done = false
      const finish = (): void => { if (!done) { done = true; this.active-- } }
      call.on('cancelled', () => { if (!done) this.cancelled++; finish() })
      const b = this.#next(method)
      if (b.kind === 'hang' || b.kind === 'stream' || b.kind === 'audio') return
      this.#later(b.delayMs ?? 0, () => {
        if (done) return
        finish()
        if (b.kind === 'fail') callback({ code: b.error.code, details: b.error.details })
        else callback(null, b.response)
      })
    }
  }

  #bidi (call: grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>): void {
    this.metadata.push(call.metadata)
    this.active++
    let done = false
    // `answered`: we ended the call ourselves, so a later cancel notice is not the client's doing.
    let answered = false
    const finish = (): void => { if (!done) { done = true; this.active-- } }
    call.on('cancelled', () => { if (!answered) this.cancelled++; answered = true; finish() })
    call.on('error', () => { finish() })
    const b = this.#next('streamingRecognize')
    let index = 0
    call.on('data', (request: Record<string, unknown>) => {
      if (done) return
      this.requests.streamingRecognize.push(request)
      const i = index++
      if (b.kind === 'fail') {
        if (i === 0) { answered = true; finish(); call.emit('error', { code: b.error.code, details: b.error.details }) }
        return
      }
      if (b.kind !== 'stream') return
      if (b.failAfter !== undefined && i + 1 >= b.failAfter.requests) {
        answered = true
        finish()
        call.emit('error', { code: b.failAfter.error.code, details: b.failAfter.error.details })
        return
      }
      for (const response of b.respond(request, i)) call.write(response)
    })
    // A client cancel (RST_STREAM) also ends the readable side, just before 'cancelled' fires:
    // wait a moment so a cancel is not mistaken for the client's half-close. 10 ms was not enough
    // on a loaded machine: a stall let this timer run before the 'cancelled' already on its way,
    // and the cancel went uncounted. Even 100 ms is not enough when the process stalls longer:
    // timers run before the socket reads of the same loop turn, so the decision waits one more
    // turn (setImmediate runs after them) and sees a cancel that arrived during the stall.
    call.on('end', () => { this.#later(100, () => { setImmediate(onEnd) }) })
    const onEnd = (): void => {
      if (done || call.cancelled) return
      if (b.kind !== 'stream') { if (b.kind !== 'hang') { answered = true; finish(); call.end() } return }
      const last = b.onEnd?.() ?? []
      answered = true
      finish()
      if (Array.isArray(last)) {
        for (const response of last) call.write(response)
        call.end()
      } else {
        call.emit('error', { code: last.code, details: last.details })
      }
    }
  }

  #synthesizeStream (call: grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>): void {
    this.metadata.push(call.metadata)
    this.active++
    let done = false
    const finish = (): void => { if (!done) { done = true; this.active-- } }
    call.on('cancelled', () => { if (!done) this.cancelled++; finish() })
    call.on('error', () => { finish() })
    const b = this.#next('streamingSynthesize')
    const fail = (error: GrpcFailure): void => { finish(); call.emit('error', { code: error.code, details: error.details }) }
    let started = false
    call.on('data', (request: Record<string, unknown>) => {
      if (done) return
      this.requests.streamingSynthesize.push(request)
      if (b.kind === 'fail') {
        if (!started) { started = true; this.#later(b.delayMs ?? 0, () => { if (!done) fail(b.error) }) }
        return
      }
      // Audio starts with the first input message (the config comes before it).
      if (b.kind !== 'audio' || started || request.input === null || request.input === undefined) return
      started = true
      let i = 0
      const next = (): void => {
        if (done) return
        if (b.failAfter !== undefined && i >= b.failAfter.chunks) { fail(b.failAfter.error); return }
        const chunk = b.chunks[i]
        if (chunk === undefined) { finish(); call.end(); return }
        call.write({ audioContent: chunk })
        this.audioChunksSent++
        i++
        if (b.hold !== undefined && i === b.hold.afterChunks) {
          b.hold.until.then(() => { this.#later(b.delayMs ?? 0, next) }, () => { this.#later(b.delayMs ?? 0, next) })
        } else {
          this.#later(b.delayMs ?? 0, next)
        }
      }
      this.#later(b.firstDelayMs ?? 0, next)
    })
  }
}
