/**
 * Field-name redaction for log records, done by walking the record instead of pino's `redact`
 * paths: its wildcard paths (`*.apiKey`, `*.*.apiKey`, ...) cost ~250 µs per log line (measured,
 * pino 10 with @pinojs/redact; 8 µs without them), which at debug level was more CPU than a call's
 * media. This walk visits plain objects and arrays a few levels deep and copies only the branch
 * that holds a secret, so the caller's object is never changed and a clean record costs a key
 * lookup per field.
 *
 * Class instances (an Error, a Buffer) are not walked: pino's serializers turn them into plain
 * data after this runs, and the exact paths in logger.ts plus the line scrubber (scrub.ts) cover
 * what they carry.
 */

/** The replacement for a secret `value` found under `key`. */
export type Censor = (value: unknown, key: string) => unknown

export interface RedactRules {
  /** Keys whose value is replaced wherever they sit (up to `maxDepth` levels down). */
  readonly secretKeys: ReadonlySet<string>
  /** Header names (compared in lower case) replaced inside any `headers` object. */
  readonly secretHeaders: ReadonlySet<string>
  /** Keys replaced only at the top level and one level down (masked caller numbers). */
  readonly shallowKeys?: ReadonlySet<string> | undefined
  /** Levels below the record walked: 3 means `a.b.c.apiKey` is still found. */
  readonly maxDepth: number
  readonly censor: Censor
}

/** `record` with secrets replaced: the same object when there is none, else a copy of the branches that change. */
export function redactFields<T> (record: T, rules: RedactRules): T {
  return walk(record, 0, rules) as T
}

function walkable (value: unknown): value is Record<string, unknown> | unknown[] {
  if (value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) return true
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

function walk (node: unknown, depth: number, rules: RedactRules): unknown {
  if (!walkable(node)) return node
  let copy: Record<string, unknown> | unknown[] | undefined
  const source = node as Record<string, unknown>
  for (const key of Object.keys(source)) {
    const value = source[key]
    let next = value
    if (rules.secretKeys.has(key) || (depth <= 1 && rules.shallowKeys?.has(key) === true)) {
      next = rules.censor(value, key)
    } else if (key === 'headers' && walkable(value) && !Array.isArray(value)) {
      next = censorHeaders(value, rules)
    } else if (depth < rules.maxDepth && walkable(value)) {
      next = walk(value, depth + 1, rules)
    }
    if (next !== value) {
      copy ??= Array.isArray(node) ? [...node] : { ...source }
      ;(copy as Record<string, unknown>)[key] = next
    }
  }
  return copy ?? node
}

function censorHeaders (headers: Record<string, unknown>, rules: RedactRules): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined
  for (const name of Object.keys(headers)) {
    if (!rules.secretHeaders.has(name.toLowerCase())) continue
    copy ??= { ...headers }
    copy[name] = rules.censor(headers[name], name)
  }
  return copy ?? headers
}
