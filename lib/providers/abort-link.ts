/**
 * An AbortController that follows its parents: aborted, with the parent's own reason, as soon as
 * one of them is, and abortable on its own. What `AbortSignal.any([...parents, controller.signal])`
 * gives, with one signal instead of two.
 *
 * Why not `AbortSignal.any`: on Node 20 every AbortSignal has a hidden class of its own (1,999
 * maps for 2,000 controllers, docs/benchmarks.md "What V8 recompiled in a warm window"), so each
 * signal made costs a new map and every use of it a runtime lookup; `any()` makes one more such
 * signal and ties it to its sources through weak references (lib/internal/abort_controller.js,
 * `AbortSignal.any`: a WeakRef in each source's set of dependants). Made and aborted in a loop,
 * pinned to one CPU: a controller and `any()` 40 µs, this link 11-17 µs, a bare controller
 * 10-16 µs. A turn made 30-40 signals, half of them through `any()`.
 *
 * The link is a listener object (`handleEvent`), not a closure: one object per link. Parents that
 * live longer than the link (the call's signal) must not keep its listener: `abort()` and
 * `dispose()` remove it from every parent, so a link is either aborted or disposed by its owner.
 */
export class AbortLink {
  readonly #controller = new AbortController()
  readonly #parents: readonly AbortSignal[]
  #attached = false

  constructor (parents: ReadonlyArray<AbortSignal | undefined>) {
    const live: AbortSignal[] = []
    for (const p of parents) if (p !== undefined) live.push(p)
    this.#parents = live
    for (const p of live) {
      if (p.aborted) {
        this.#controller.abort(p.reason)
        return
      }
    }
    for (const p of live) p.addEventListener('abort', this, { once: true })
    this.#attached = live.length > 0
  }

  get signal (): AbortSignal { return this.#controller.signal }

  /** Abort this link (not its parents) with `reason`, and let go of the parents. */
  abort (reason: unknown): void {
    this.dispose()
    this.#controller.abort(reason)
  }

  /** Stop following the parents; the signal stays as it is. Safe to call more than once. */
  dispose (): void {
    if (!this.#attached) return
    this.#attached = false
    for (const p of this.#parents) p.removeEventListener('abort', this)
  }

  /** A parent aborted: so does the link, with that parent's reason (as `AbortSignal.any` does). */
  handleEvent (event: Event): void {
    this.abort((event.target as AbortSignal).reason)
  }
}
