import { randomUUID } from 'node:crypto'
import type { BridgeOutcome } from './types.ts'

/**
 * Legs our server originates from its Event Socket (`api`/`bgapi originate ... &park()`), after
 * mod_commands.c originate_function and switch_ivr_originate.c: the reply is `+OK <uuid>` once
 * the leg answers (then it runs `&park()`), `-ERR <CAUSE>` when it does not; `{vars}` set
 * channel variables on the new leg (origination_uuid names it, originate_timeout bounds the
 * ringing, default 60 s). `uuid_kill` and `hupall CAUSE VAR VALUE` (matching the leg's
 * variables) hang a leg up; a ringing one makes its originate fail with that cause.
 * The far end follows the call's `bridge` option (the same one the `bridge` application uses).
 */

export interface LegRecord {
  readonly uuid: string
  readonly dialString: string
  readonly variables: Readonly<Record<string, string>>
  readonly startedMs: number
  answeredMs?: number
  bridgedMs?: number
  endedMs?: number
  /** Why it ended: the far end hung up, we killed it (cause), it never answered, the bridge ended. */
  endCause?: string
}

type LegState = 'ringing' | 'parked' | 'bridged' | 'down'

interface Leg {
  readonly record: LegRecord
  state: LegState
  settle?: (reply: string) => void
  timers: NodeJS.Timeout[]
  /** Resolves when the far end hangs up or the leg is killed. */
  readonly down: Promise<string>
  hangup: (cause: string) => void
}

const DEFAULT_ORIGINATE_TIMEOUT_S = 60

export class OriginatedLegs {
  readonly records: LegRecord[] = []
  private readonly legs = new Map<string, Leg>()

  constructor (private readonly outcome: () => BridgeOutcome | undefined, private readonly now: () => number) {}

  /** `originate <dialstring> <exten>`: resolves with the API reply. */
  async originate (args: string): Promise<string> {
    const sp = args.lastIndexOf(' ')
    const dial = sp < 0 ? args : args.slice(0, sp)
    if (sp < 0) return '-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n'
    const { variables, dialString } = parseLeadingVariables(dial)
    const uuid = variables.origination_uuid ?? randomUUID()
    if (this.legs.has(uuid)) return '-ERR INVALID_NUMBER_FORMAT\n'
    const record: LegRecord = { uuid, dialString, variables, startedMs: this.now() }
    this.records.push(record)
    let resolveDown: (cause: string) => void = () => {}
    const leg: Leg = {
      record,
      state: 'ringing',
      timers: [],
      down: new Promise<string>((resolve) => { resolveDown = resolve }),
      hangup: (cause) => {
        if (leg.state === 'down') return
        const was = leg.state
        leg.state = 'down'
        for (const t of leg.timers) clearTimeout(t)
        record.endedMs = this.now()
        record.endCause = cause
        if (was === 'ringing') leg.settle?.(`-ERR ${cause}\n`)
        resolveDown(cause)
      },
    }
    this.legs.set(uuid, leg)
    const plan = this.outcome() ?? { outcome: 'answer', durationMs: 1000 }
    const timeoutMs = (Number.parseInt(variables.originate_timeout ?? '', 10) || DEFAULT_ORIGINATE_TIMEOUT_S) * 1000
    return await new Promise<string>((resolve) => {
      leg.settle = resolve
      if (plan.outcome === 'fail') {
        leg.timers.push(setTimeout(() => { leg.hangup((plan.cause ?? 'NO_ANSWER').toUpperCase()) }, plan.ringMs ?? 50))
      } else if (plan.outcome === 'no-answer') {
        leg.timers.push(setTimeout(() => { leg.hangup('NO_ANSWER') }, Math.min(plan.ringMs ?? timeoutMs, timeoutMs)))
      } else {
        leg.timers.push(setTimeout(() => {
          if (leg.state !== 'ringing') return
          leg.state = 'parked'
          record.answeredMs = this.now()
          // The human talks (or waits) durationMs, then hangs up.
          leg.timers.push(setTimeout(() => { leg.hangup('NORMAL_CLEARING') }, plan.durationMs ?? 1000))
          resolve(`+OK ${uuid}\n`)
        }, Math.min(plan.ringMs ?? 100, timeoutMs)))
      }
    })
  }

  /** uuid_kill: `-ERR No such channel!` unless the leg is up. */
  kill (uuid: string, cause: string): string {
    const leg = this.legs.get(uuid)
    if (leg === undefined || leg.state === 'down') return '-ERR No such channel!\n'
    leg.hangup(cause)
    return '+OK\n'
  }

  /** switch_core_session_hupall_matching_vars(): every leg whose variables all match. */
  hupall (cause: string, match: Readonly<Record<string, string>>): number {
    let n = 0
    for (const leg of this.legs.values()) {
      if (leg.state === 'down') continue
      if (Object.entries(match).every(([k, v]) => leg.record.variables[k] === v)) { leg.hangup(cause); n++ }
    }
    return n
  }

  /** The leg `uuid_bridge` may take: answered and parked. */
  parked (uuid: string): { down: Promise<string>, bridged: () => void, hangup: (cause: string) => void } | undefined {
    const leg = this.legs.get(uuid)
    if (leg === undefined || leg.state !== 'parked') return undefined
    return {
      down: leg.down,
      bridged: () => { leg.state = 'bridged'; leg.record.bridgedMs = this.now() },
      hangup: leg.hangup,
    }
  }

  /** Legs still up (ringing, parked or bridged): an orphan if the call is over. */
  get up (): LegRecord[] {
    return [...this.legs.values()].filter((l) => l.state !== 'down').map((l) => l.record)
  }

  /** The simulator's teardown: FreeSWITCH would keep them; we only stop our timers. */
  dispose (): void {
    for (const leg of this.legs.values()) for (const t of leg.timers) clearTimeout(t)
  }
}

/** switch_event_create_brackets(): a leading `{a=b,c=d}` block; the rest is the dial string. */
function parseLeadingVariables (dial: string): { variables: Record<string, string>, dialString: string } {
  const variables: Record<string, string> = {}
  let rest = dial.trim()
  const m = /^\{([^}]*)\}/.exec(rest)
  if (m !== null) {
    for (const pair of (m[1] ?? '').split(',')) {
      const eq = pair.indexOf('=')
      if (eq > 0) variables[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
    rest = rest.slice(m[0].length)
  }
  return { variables, dialString: rest }
}
