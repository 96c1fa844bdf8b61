import type { Logger } from 'pino'

/** What the call server offers the shutdown sequence. */
export interface ShutdownTarget {
  /** Refuse new calls (admission answers busy); resolves once the refusal is in place. */
  stopAccepting (): Promise<void>
  activeCalls (): number
  /** Ask every call to end politely (a goodbye, then hangup); resolves when all were asked. */
  endAll (reason: string): Promise<void>
}

export type ShutdownState = 'running' | 'draining' | 'ending' | 'stopped'

export interface ShutdownOptions {
  readonly target: ShutdownTarget
  /** How long calls may go on after we stop accepting, before they are asked to end. */
  readonly deadlineMs: number
  /** After endAll, how long the goodbyes may take before we stop anyway. */
  readonly endGraceMs?: number | undefined
  readonly pollMs?: number | undefined
  readonly logger: Logger
  /** Close what is left (ops server, call store) once calls are over. */
  readonly finalize: () => Promise<void>
  readonly exit: (code: number) => void
  /** Injected for tests; wall-clock timers otherwise. */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined
  readonly now?: (() => number) | undefined
}

/**
 * SIGTERM: stop accepting, let calls finish up to the deadline, ask the rest to end, close
 * storage, exit. A second signal exits at once: the operator has decided not to wait.
 */
export class ShutdownController {
  #state: ShutdownState = 'running'
  #running: Promise<void> | undefined
  readonly #o: ShutdownOptions
  readonly #log: Logger
  readonly #sleep: (ms: number) => Promise<void>
  readonly #now: () => number

  constructor (options: ShutdownOptions) {
    this.#o = options
    this.#log = options.logger.child({ component: 'shutdown' })
    this.#sleep = options.sleep ?? (async (ms) => { await new Promise((resolve) => setTimeout(resolve, ms)) })
    this.#now = options.now ?? Date.now
  }

  get state (): ShutdownState {
    return this.#state
  }

  /** Runs the sequence once; later calls return the same promise. Never rejects. */
  shutdown (reason: string): Promise<void> {
    this.#running ??= this.#run(reason)
    return this.#running
  }

  /** SIGTERM and SIGINT handlers; returns a function that removes them. */
  install (proc: Pick<NodeJS.Process, 'on' | 'off'>): () => void {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.#running !== undefined) {
        this.#log.warn({ signal }, 'second shutdown signal; exiting now')
        this.#o.exit(1)
        return
      }
      void this.shutdown(signal)
    }
    proc.on('SIGTERM', onSignal)
    proc.on('SIGINT', onSignal)
    return () => {
      proc.off('SIGTERM', onSignal)
      proc.off('SIGINT', onSignal)
    }
  }

  async #run (reason: string): Promise<void> {
    const { target, deadlineMs } = this.#o
    let code = 0
    try {
      this.#state = 'draining'
      this.#log.info({ reason, activeCalls: target.activeCalls(), deadlineMs }, 'shutting down; no new calls')
      await target.stopAccepting()
      const drained = await this.#waitForCalls(deadlineMs)
      if (!drained) {
        this.#state = 'ending'
        this.#log.warn({ activeCalls: target.activeCalls() }, 'shutdown deadline reached; ending calls')
        await target.endAll('shutdown')
        if (!await this.#waitForCalls(this.#o.endGraceMs ?? 10_000)) {
          this.#log.error({ activeCalls: target.activeCalls() }, 'calls still active after ending them; stopping anyway')
          code = 1
        }
      }
    } catch (err) {
      this.#log.error({ err }, 'shutdown step failed')
      code = 1
    }
    try {
      await this.#o.finalize()
    } catch (err) {
      this.#log.error({ err }, 'shutdown finalize failed')
      code = 1
    }
    this.#state = 'stopped'
    this.#log.info({ exitCode: code }, 'shutdown complete')
    this.#o.exit(code)
  }

  async #waitForCalls (ms: number): Promise<boolean> {
    const until = this.#now() + ms
    const poll = this.#o.pollMs ?? 250
    for (;;) {
      if (this.#o.target.activeCalls() === 0) return true
      const left = until - this.#now()
      if (left <= 0) return false
      await this.#sleep(Math.min(poll, left))
    }
  }
}
