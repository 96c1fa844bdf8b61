import { pino, type Logger } from 'pino'

const { chindingsSym } = pino.symbols

/**
 * `log.child(bindings)` for a per-call logger: the same lines (log's bindings, then these), but
 * made from log's own parent, which every call shares. pino's child is `Object.create(parent)`:
 * under a per-call logger V8 gives that logger a map of its own (it becomes a prototype) and the
 * child another, ~400 B of heap each for as long as the call lasts (issue 18); the children of a
 * shared parent share one map. Anything but a child of a logger (the root, a test's stand-in)
 * gets a plain child.
 */
export function callChild (log: Logger, bindings: Record<string, string | number | boolean | null>): Logger {
  const parent: unknown = Object.getPrototypeOf(log)
  if (typeof parent !== 'object' || parent === null || !Object.hasOwn(parent, chindingsSym)) return log.child(bindings)
  const child = (parent as Logger).child({})
  // pino.symbols is pino's way in for integrations: a logger's bindings are this one string of
  // serialised fields, which setBindings extends as child(bindings) does.
  const own = child as unknown as Record<symbol, string>
  own[chindingsSym] = (log as unknown as Record<symbol, string>)[chindingsSym] as string
  child.setBindings(bindings)
  if (child.level !== log.level) child.level = log.level
  return child
}

/** A bare child of each long-lived logger, made once: the parent of every call's logger. */
const callParents = new WeakMap<Logger, Logger>()

/**
 * `log.child(bindings)` for a call's own logger, made from a long-lived one (the root): the same
 * lines, but under a bare child of `log` kept for every call. pino builds each child of the root
 * a formatters object of its own (it resets the root's bindings formatter for children, 48 B);
 * children of that bare child share its one, and so do the loggers callChild makes beside the
 * call's (five a call).
 */
export function callLogger (log: Logger, bindings: Record<string, string | number | boolean | null>): Logger {
  let parent = callParents.get(log)
  if (parent === undefined) {
    parent = log.child({})
    callParents.set(log, parent)
  }
  return parent.child(bindings)
}
