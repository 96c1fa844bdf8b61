import type { Logger } from 'pino'
import { CALL_OUTCOMES, type CallObserver, type CallOutcome, type CallRecorder, type CallStart, type EndInput, type ErrorInput, type LatencyInput, type MessageInput, type TurnInput, type UsageInput } from './types.ts'
import type { WriteOp } from './sql.ts'

/** What a recorder needs from its store: a queue that never throws. */
export interface WriteSink {
  /** Queue a write; `done` runs once it is committed or its failure logged. */
  enqueue (op: WriteOp, done?: () => void): void
}

const MAX_TEXT = 64 * 1024
const MAX_SHORT = 256

/**
 * Caller-controlled text is stored as data, but PostgreSQL refuses NUL in TEXT (the whole write
 * would fail) and a runaway transcript must not bloat a row, so both are cut here.
 */
export function cleanText (value: string, max = MAX_TEXT): string {
  const noNul = value.includes('\u0000') ? value.replace(/\u0000/g, '') : value
  return noNul.length > max ? noNul.slice(0, max) : noNul
}

const cleanOptional = (value: string | undefined, max = MAX_SHORT): string | undefined =>
  value === undefined || value === null ? undefined : cleanText(String(value), max)

const time = (at: number | undefined, now: () => number): number =>
  typeof at === 'number' && Number.isFinite(at) ? Math.round(at) : now()

export interface RecorderDeps {
  readonly sink: WriteSink
  readonly instance: string
  readonly logger: Logger
  readonly observer?: CallObserver | undefined
  readonly now: () => number
}

/** How often a live call's record is touched (the worst error in a crashed call's duration). */
const HEARTBEAT_MS = 2000

export class QueuedCallRecorder implements CallRecorder {
  readonly uuid: string
  readonly #deps: RecorderDeps
  /** Made at the first warning: most calls log nothing here, and a child logger is ~0.2 KB a call. */
  #logger: Logger | undefined
  #turns = 0
  #messages = 0
  /** Rows opened by a recording that has not ended yet: recording path -> seq. */
  #recording: Map<string, number> | undefined
  #errors = 0
  #lastErrorCode: string | undefined
  #ended = false
  /**
   * Bumps last_activity_at while the call lives, so a record that a crash leaves open ends,
   * at the next start-up, within HEARTBEAT_MS of when the call really stopped (not at its start).
   */
  readonly #heartbeat: NodeJS.Timeout

  constructor (start: CallStart, deps: RecorderDeps) {
    this.#deps = deps
    this.uuid = cleanText(String(start.uuid), MAX_SHORT)
    this.#push({
      kind: 'begin',
      row: {
        uuid: this.uuid,
        instance: deps.instance,
        did: cleanText(String(start.did ?? ''), MAX_SHORT),
        callerNumber: cleanOptional(start.callerNumber) ?? null,
        callerName: cleanOptional(start.callerName) ?? null,
        script: cleanOptional(start.script) ?? null,
        mediaMode: cleanOptional(start.mediaMode) ?? null,
        startedAt: time(start.startedAt, deps.now),
      },
    })
    this.#observe((o) => o.callStarted())
    this.#heartbeat = setInterval(() => { this.#push({ kind: 'touch' }) }, HEARTBEAT_MS)
    this.#heartbeat.unref()
  }

  get #log (): Logger {
    return (this.#logger ??= this.#deps.logger.child({ call: this.uuid }))
  }

  rejected (reason: string): void {
    const clean = cleanText(String(reason), MAX_SHORT)
    this.#push({ kind: 'set', column: 'rejection_reason', value: clean })
    this.#observe((o) => o.admissionRejected(clean))
  }

  answered (at?: number): void {
    this.#push({ kind: 'set', column: 'answered_at', value: time(at, this.#deps.now) })
  }

  contact (name: string): void {
    this.#push({ kind: 'set', column: 'contact', value: cleanText(String(name), MAX_SHORT) })
  }

  turn (turn: TurnInput): void {
    const role = turn.role === 'agent' ? 'agent' : 'caller'
    this.#push({ kind: 'turn', seq: ++this.#turns, role, text: cleanText(String(turn.text)), at: time(turn.at, this.#deps.now), interrupted: turn.interrupted === true })
  }

  latency (latency: LatencyInput): void {
    if (!Number.isInteger(latency.turn)) {
      this.#log.warn({ turn: latency.turn }, 'latency report without an integer turn dropped')
      return
    }
    this.#push({ kind: 'latency', latency: { ...latency } })
    this.#observe((o) => o.turnLatency(latency))
  }

  message (message: MessageInput): void {
    const recordingPath = cleanOptional(message.recordingPath, 4096)
    const status = message.status === 'recording' || message.status === 'discarded' ? message.status : 'complete'
    // A recording's later reports land on the row its start opened, found by its file.
    const open = recordingPath === undefined ? undefined : this.#recording?.get(recordingPath)
    if (status === 'discarded' && open === undefined) return
    const seq = open ?? ++this.#messages
    if (recordingPath !== undefined) {
      if (status === 'recording') (this.#recording ??= new Map()).set(recordingPath, seq)
      else this.#recording?.delete(recordingPath)
    }
    const durationMs = typeof message.durationMs === 'number' && Number.isFinite(message.durationMs) ? message.durationMs : undefined
    this.#push({
      kind: 'message',
      seq,
      at: time(message.at, this.#deps.now),
      message: {
        name: cleanOptional(message.name),
        number: cleanOptional(message.number),
        text: cleanText(String(message.text ?? '')),
        recordingPath,
        status,
        durationMs,
      },
    })
  }

  error (error: ErrorInput): void {
    const clean: ErrorInput = {
      code: cleanText(String(error.code), 64),
      message: cleanText(String(error.message), 4096),
      provider: cleanOptional(error.provider, 64),
    }
    this.#lastErrorCode = clean.code
    this.#push({ kind: 'error', seq: ++this.#errors, at: time(error.at, this.#deps.now), error: clean })
    this.#observe((o) => o.callError(clean))
  }

  usage (usage: UsageInput): void {
    this.#push({ kind: 'usage', usage: { ...usage } })
    const discarded = usage.preemptiveDiscarded ?? 0
    if (discarded > 0) this.#observe((o) => { o.preemptiveDiscarded?.(discarded) })
  }

  end (end: EndInput): Promise<void> {
    if (this.#ended) {
      this.#log.warn({ outcome: end.outcome }, 'call record already ended; second end ignored')
      return Promise.resolve()
    }
    let outcome: CallOutcome = end.outcome
    if (!(CALL_OUTCOMES as readonly string[]).includes(outcome)) {
      this.#log.warn({ outcome }, 'unknown call outcome recorded as failed')
      outcome = 'failed'
    }
    const errorCode = end.errorCode ?? (outcome === 'failed' ? this.#lastErrorCode : undefined)
    const op: WriteOp = {
      uuid: this.uuid,
      queuedAt: this.#deps.now(),
      kind: 'end',
      outcome,
      hangupCause: cleanOptional(end.hangupCause, 64) ?? null,
      endedAt: time(end.endedAt, this.#deps.now),
      errorCode: errorCode === undefined ? null : cleanText(errorCode, 64),
    }
    this.#ended = true
    clearInterval(this.#heartbeat)
    this.#observe((o) => o.callEnded(outcome))
    return new Promise((resolve) => { this.#deps.sink.enqueue(op, resolve) })
  }

  #push (partial: DistributiveOmit<WriteOp, 'uuid' | 'queuedAt'>): void {
    if (this.#ended) {
      this.#log.warn({ kind: partial.kind }, 'call record already ended; write ignored')
      return
    }
    this.#deps.sink.enqueue({ ...partial, uuid: this.uuid, queuedAt: this.#deps.now() } as WriteOp)
  }

  /** Metrics are a side view: a failing observer must not cost the call its record. */
  #observe (fn: (o: CallObserver) => void): void {
    const observer = this.#deps.observer
    if (observer === undefined) return
    try {
      fn(observer)
    } catch (err) {
      this.#log.warn({ err }, 'call observer threw')
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
