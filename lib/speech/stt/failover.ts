import { PhoneAgentError } from '../../errors.ts'
import { AsyncQueue } from '../../providers/async-queue.ts'
import { canFailOver, type Admitted, type ProviderChain } from '../../providers/failover.ts'
import type { PcmChunk } from '../types.ts'
import type { SttOptions, SttProvider, SttResult, SttSession, SttStreamOptions, Transcript } from './types.ts'

/**
 * Audio kept for replay into the next recogniser while no result has come: a live session that
 * fails before its first result starts again on the next provider with everything said so far.
 * 30 s of 16 kHz audio is about 1 MB; a longer utterance is not replayed (the session then fails
 * as it would without a second provider).
 */
const REPLAY_MAX_SECONDS = 30

/**
 * The configured recognisers in order (`speech.stt.providers`), as one SttProvider. Once a
 * result (interim included) has been seen, a failure is final: the caller may have acted on it.
 */
export class FailoverStt implements SttProvider {
  readonly chain: ProviderChain<SttProvider>

  constructor (chain: ProviderChain<SttProvider>) {
    this.chain = chain
  }

  get name (): string { return this.chain.current.name }

  /** The provider a request would go to now; the others are dialled only if it fails. */
  preconnect (): void {
    this.chain.current.preconnect?.()
  }

  async transcribe (audio: PcmChunk, options: SttOptions): Promise<Transcript> {
    return await this.chain.run((stt) => stt.transcribe(audio, options), options.signal)
  }

  /** Every recogniser in the chain reads the utterance at its end: then a failover has nothing to replay. */
  get readsUtterance (): boolean {
    return this.chain.members.every((m) => m.provider.readsUtterance === true)
  }

  stream (options: SttStreamOptions): SttSession {
    return failoverSession(this.chain, options, options.utterance !== undefined && this.readsUtterance)
  }
}

/**
 * `readsUtterance`: every member's session reads `options.utterance` at its end, so the frames
 * are neither written nor kept for a replay (a session started after a failure reads it too).
 */
function failoverSession (chain: ProviderChain<SttProvider>, options: SttStreamOptions, readsUtterance: boolean): SttSession {
  const replay: Buffer[] = []
  let replayBytes = 0
  let replayable = chain.members.length > 1
  const maxBytes = REPLAY_MAX_SECONDS * options.sampleRate * 2
  let ended = false
  let produced = false
  let stopped = false
  let current: { a: Admitted<SttProvider>, session: SttSession, it: AsyncIterator<SttResult> } | undefined
  // The consumer stopped reading: stop the provider's session too (its own cleanup cancels it).
  const results = new AsyncQueue<SttResult>(() => {
    stopped = true
    current?.a.lease.end(new PhoneAgentError('TURN_OVER', 'recognition no longer read'))
    void current?.it.return?.()
  })

  const pump = async (): Promise<void> => {
    let lastError: unknown
    for (let a = chain.admit(0); a !== undefined; a = chain.next(a, lastError)) {
      try {
        const session = a.provider.stream(options)
        const it = session.results[Symbol.asyncIterator]()
        current = { a, session, it }
        for (const frame of replay) session.write(frame)
        if (ended) session.end()
        for (let r = await it.next(); r.done !== true; r = await it.next()) {
          if (!produced) {
            produced = true
            a.lease.produced()
            replayable = false
            replay.length = 0
          }
          results.push(r.value)
        }
        a.lease.end()
        results.end()
        return
      } catch (err) {
        a.lease.end(err)
        if (stopped) return
        if (produced || !replayable || !canFailOver(err, options.signal)) throw err
        lastError = err
      }
    }
    throw chain.unavailable(lastError)
  }
  // Admission happens now, synchronously: the first provider's session starts with this call.
  pump().catch((err: unknown) => { results.fail(err) })

  return {
    readsUtterance,
    write (frame: Buffer): void {
      if (ended || results.closed || readsUtterance) return
      if (replayable) {
        if (replayBytes + frame.length > maxBytes) {
          replayable = false
          replay.length = 0
        } else {
          replay.push(frame)
          replayBytes += frame.length
        }
      }
      current?.session.write(frame)
    },
    end (): void {
      if (ended) return
      ended = true
      current?.session.end()
    },
    results,
  }
}
