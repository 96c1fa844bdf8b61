import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { SimulatedCall } from './call.ts'
import type { CallResult, FakeFreeSwitchOptions, PlaceCallOptions } from './types.ts'
import type { WriteTimer } from './ear.ts'

export { SimulatedCall } from './call.ts'
export type * from './types.ts'
export { buildWav, parseWav, wavDurationMs } from './wav.ts'
export { CallerEar, conversationWav, level } from './ear.ts'
export type { AudioGap, HeardFrame, WriteTimer } from './ear.ts'
export type { UnicastEnd, UnicastEngine, UnicastHooks, UnicastParams, UnicastPort, UnicastRecord } from './unicast.ts'

/**
 * A fake FreeSWITCH for tests and the `phone-agent call` CLI: each placeCall() is one inbound
 * call that the dialplan hands to `socket HOST:PORT async full`.
 */
export class FakeFreeSwitch {
  readonly coreUuid = randomUUID()
  private readonly live = new Set<SimulatedCall>()
  private readonly log: Logger | undefined
  private readonly baseDir: string
  private readonly writeTimer: WriteTimer

  constructor (options: FakeFreeSwitchOptions = {}) {
    this.log = options.logger?.child({ component: 'fake-freeswitch' })
    this.baseDir = options.baseDir ?? '/usr/share/freeswitch/sounds'
    this.writeTimer = options.writeTimer ?? 'matrix'
  }

  placeCall (options: PlaceCallOptions): SimulatedCall {
    const call = new SimulatedCall({ writeTimer: this.writeTimer, ...options, baseDir: this.baseDir }, this.coreUuid, this.log?.child({ sim_call: options.uuid }))
    this.live.add(call)
    void call.ended.finally(() => { this.live.delete(call) })
    return call
  }

  get activeCalls (): number {
    return this.live.size
  }

  /** Hang up every live call (caller side) and wait for all of them to finish. */
  async close (): Promise<CallResult[]> {
    const calls = [...this.live]
    for (const c of calls) c.hangup()
    return await Promise.all(calls.map(async (c) => await c.ended))
  }
}
export { startInboundEsl, parseXml, toFsXml, aclAllows, runApi, type FakeInboundEsl, type InboundState, type GatewayState, type AclList, type XmlElement } from './inbound/server.ts'
