import type { Logger } from 'pino'
import type { InboundFrame } from './inbound.ts'
import type { SentListener } from './endpoint-options.ts'

/**
 * A call's synchronous listeners (MediaEndpoint.onFrame, onSent): the caller's frames as they
 * arrive, and the frames we send. Arrays, replaced on (un)subscribe: telling them per frame
 * allocates no iterator. A listener that throws is logged: it must not take the socket's event
 * handler (and the process) down, nor keep the others from hearing.
 */
export class FrameListeners {
  readonly #logger: Logger
  #inbound: ReadonlyArray<(frame: InboundFrame) => void> = []
  #sent: ReadonlyArray<SentListener> = []

  constructor (logger: Logger) {
    this.#logger = logger
  }

  /** Whether anyone listens to the frames we send (their samples are worked out only then). */
  get hearSent (): boolean { return this.#sent.length > 0 }

  onFrame (listener: (frame: InboundFrame) => void): () => void {
    this.#inbound = [...this.#inbound, listener]
    return () => { this.#inbound = this.#inbound.filter((l) => l !== listener) }
  }

  onSent (listener: SentListener): () => void {
    this.#sent = [...this.#sent, listener]
    return () => { this.#sent = this.#sent.filter((l) => l !== listener) }
  }

  frame (frame: InboundFrame): void {
    const listeners = this.#inbound
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as (frame: InboundFrame) => void)(frame)
      } catch (err) {
        this.#logger.error({ err }, 'unicast frame listener threw')
      }
    }
  }

  sent (frame: Buffer, sentAt: number, samples: Int16Array): void {
    const listeners = this.#sent
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as SentListener)(frame, sentAt, samples)
      } catch (err) {
        this.#logger.error({ err }, 'unicast sent-frame listener threw')
      }
    }
  }

  clear (): void {
    this.#inbound = []
    this.#sent = []
  }
}
