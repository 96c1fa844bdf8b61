import type { CallRecorder, CallStart, CallStore, EndInput, MessageInput, TurnInput } from '../records/types.ts'

/** A call in progress as the console shows it. */
export interface LiveCall {
  readonly uuid: string
  readonly did: string
  readonly callerNumber: string | null
  readonly callerName: string | null
  readonly script: string | null
  readonly startedAt: number
  readonly phase: string
  readonly turns: number
}

export interface CallWatch {
  /** Hand this to the call core instead of the store: it records exactly as the store does. */
  readonly records: Pick<CallStore, 'begin'>
  live (): LiveCall[]
}

/**
 * Sees every call through its recorder (the one object the call core reports to), so the owner's
 * services learn of a call's end and its phase without a hook in the call code: `onEnded` runs
 * after the record is committed, and never delays or fails the call's own `end()`.
 */
export function watchCalls (store: Pick<CallStore, 'begin'>, onEnded: (uuid: string) => void, now: () => number = Date.now): CallWatch {
  const calls = new Map<string, { start: CallStart, startedAt: number, phase: string, turns: number }>()
  return {
    records: {
      begin (start: CallStart): CallRecorder {
        const inner = store.begin(start)
        const live = { start, startedAt: start.startedAt ?? now(), phase: 'ringing', turns: 0 }
        calls.set(start.uuid, live)
        return new WatchedRecorder(inner, live, () => {
          calls.delete(start.uuid)
          onEnded(start.uuid)
        })
      },
    },
    live: () => [...calls.values()].map((c) => ({
      uuid: c.start.uuid,
      did: c.start.did,
      callerNumber: c.start.callerNumber ?? null,
      callerName: c.start.callerName ?? null,
      script: c.start.script ?? null,
      startedAt: c.startedAt,
      phase: c.phase,
      turns: c.turns,
    })).sort((a, b) => a.startedAt - b.startedAt),
  }
}

class WatchedRecorder implements CallRecorder {
  readonly uuid: string
  #ended = false

  constructor (
    private readonly inner: CallRecorder,
    private readonly live: { phase: string, turns: number },
    private readonly ended: () => void,
  ) {
    this.uuid = inner.uuid
  }

  rejected (reason: string): void { this.live.phase = 'refused'; this.inner.rejected(reason) }
  answered (at?: number): void { this.live.phase = 'answered'; this.inner.answered(at) }
  contact (name: string): void { this.inner.contact(name) }
  turn (turn: TurnInput): void {
    this.live.turns++
    this.live.phase = turn.role === 'caller' ? 'caller spoke' : 'agent speaking'
    this.inner.turn(turn)
  }

  latency (latency: Parameters<CallRecorder['latency']>[0]): void { this.inner.latency(latency) }
  message (message: MessageInput): void {
    this.live.phase = message.status === 'recording' ? 'recording a message' : 'message taken'
    this.inner.message(message)
  }

  error (error: Parameters<CallRecorder['error']>[0]): void { this.inner.error(error) }
  usage (usage: Parameters<CallRecorder['usage']>[0]): void { this.inner.usage(usage) }
  async end (end: EndInput): Promise<void> {
    await this.inner.end(end)
    if (this.#ended) return
    this.#ended = true
    try {
      this.ended()
    } catch { /* the owner's services log their own failures; the call is over either way */ }
  }
}
