/**
 * An abort signal made only when something first waits on it, already aborted when that is after
 * the abort. For a per-call signal most calls never wait on (the channel's "socket closed"): on
 * Node 20 each AbortSignal has a hidden class of its own, about 1 KB of heap a call.
 */
export class LazyAbort {
  #controller: AbortController | undefined
  #reason: unknown
  #aborted = false

  get signal (): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Whether abort() was called, without making the signal. */
  get aborted (): boolean { return this.#aborted }

  /** The first reason wins, as AbortController.abort's does. */
  abort (reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}
