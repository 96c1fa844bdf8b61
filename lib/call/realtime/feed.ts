import { PhoneAgentError } from '../../errors.ts'
import type { RealtimeEvent } from '../../realtime/types.ts'

export interface FeedHandler {
  event (e: RealtimeEvent): void
  /** The session is over: closed by the vendor, broken, or unreadable. */
  end (err: unknown): void
}

/**
 * The one reader of a session's events, for the whole call: an exchange subscribes while it
 * runs, and a later exchange on the same session (after the operator key found nobody)
 * subscribes again. Reading the events once per exchange would end the stream with the first.
 * Events with nobody subscribed (while a fixed phrase plays) are dropped.
 */
export class EventFeed {
  #handler: FeedHandler | undefined
  #ended: { readonly err: unknown } | undefined

  constructor (events: AsyncIterable<RealtimeEvent>, vendor: string) {
    void this.#read(events, vendor)
  }

  /** Set once the session is over, with why. */
  get ended (): { readonly err: unknown } | undefined { return this.#ended }

  subscribe (handler: FeedHandler): () => void {
    this.#handler = handler
    const ended = this.#ended
    if (ended !== undefined) queueMicrotask(() => { handler.end(ended.err) })
    return () => { if (this.#handler === handler) this.#handler = undefined }
  }

  async #read (events: AsyncIterable<RealtimeEvent>, vendor: string): Promise<void> {
    try {
      for await (const e of events) this.#handler?.event(e)
      this.#end(new PhoneAgentError('PROVIDER_UNAVAILABLE', `${vendor} realtime: the session ended`))
    } catch (err) {
      this.#end(err)
    }
  }

  #end (err: unknown): void {
    this.#ended = { err }
    this.#handler?.end(err)
  }
}
