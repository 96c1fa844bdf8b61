import { FreeSwitchResponse } from 'esl'

/** The connection's events only the channel listens to: no one else's listener has a turn to keep. */
export const CHANNEL_EVENTS: readonly string[] = [
  'DTMF', 'CHANNEL_ANSWER', 'CHANNEL_BRIDGE', 'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'cleanup_linger', 'cleanup_disconnect',
  'error.invalid-json', 'error.missing-event-name', 'error.missing-content-type',
]

/** Takes an event the channel alone listens to; true when it is one of them (esl's emit then counts it handled). */
export type EventRoute = (event: string, args: readonly unknown[]) => boolean

/**
 * esl's per-call connection with one slot for the channel's events. esl keeps a Set of handlers
 * per event name (its FreeSwitchEventEmitter), so the channel's ten `on` listeners were ten Sets
 * and ten closures a call (~2 KB of heap on Node 20, issue 18); through the slot they are one
 * handler. Only events no one else listens to go this way, so no listener's turn moves. With the
 * slot empty it is esl's connection as it was.
 */
export class RoutedResponse extends FreeSwitchResponse {
  route: EventRoute | undefined
}

// On the prototype, not a field: one function for every call (a field's arrow is one per call).
// esl's typings list its own events only: the call goes through as it came.
const emit = FreeSwitchResponse.prototype.emit as (this: FreeSwitchResponse, event: string, ...args: unknown[]) => boolean
RoutedResponse.prototype.emit = function (this: RoutedResponse, event: string, ...args: unknown[]): boolean {
  const routed = this.route !== undefined && this.route(event, args)
  return emit.call(this, event, ...args) || routed
} as FreeSwitchResponse['emit']

/**
 * Hand `events` to `route`: through a RoutedResponse's slot, or (a plain emitter, as the specs'
 * fake connections are) with a listener per event, as before.
 */
export function routeEvents (esl: object, events: readonly string[], route: EventRoute): void {
  if (esl instanceof RoutedResponse) {
    esl.route = route
    return
  }
  const emitter = esl as { on: (event: string, handler: (...args: unknown[]) => void) => unknown }
  for (const event of events) emitter.on(event, (...args) => { route(event, args) })
}
