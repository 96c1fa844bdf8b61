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
