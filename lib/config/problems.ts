import type { z } from 'zod'
import { ConfigError } from '../errors.ts'
import { knownKeysAt } from './schema-walk.ts'
import { closest, didYouMean } from '../suggest.ts'

/** One thing wrong with a config, named by its field path (`routes.+390212345678.script`). */
export interface ConfigProblem {
  readonly field: string
  readonly message: string
}

/**
 * Every problem found in a config, thrown at once so a user fixes them in one pass. It is a
 * ConfigError (code CONFIG_INVALID) whose `field` is the first problem's, so callers that only
 * know ConfigError keep working.
 */
export class ConfigProblems extends ConfigError {
  readonly problems: readonly ConfigProblem[]
  constructor (problems: readonly ConfigProblem[], options: { cause?: unknown } = {}) {
    const first = problems[0] ?? { field: '(root)', message: 'invalid' }
    super(first.field, first.message, options)
    this.name = 'ConfigProblems'
    this.problems = problems
    if (problems.length > 1) this.message = formatProblems(problems)
  }
}

/** `config: 3 problems:` and one indented `field: message` line each. */
export function formatProblems (problems: readonly ConfigProblem[]): string {
  if (problems.length === 1) return `config: ${problems[0]!.field}: ${problems[0]!.message}`
  return [`config: ${problems.length} problems:`, ...problems.map((p) => `  ${p.field}: ${p.message}`)].join('\n')
}

/** Throw ConfigProblems when there is anything to report. */
export function throwIfProblems (problems: readonly ConfigProblem[]): void {
  if (problems.length > 0) throw new ConfigProblems(problems)
}

/** Collects problems from checks that throw ConfigError, so one bad field does not hide the next. */
export class ProblemList {
  readonly items: ConfigProblem[] = []
  add (field: string, message: string): void {
    this.items.push({ field, message })
  }

  /** Run `fn`; a ConfigError it throws becomes a problem (every one of a ConfigProblems). */
  run<T> (fn: () => T): T | undefined {
    try {
      return fn()
    } catch (err) {
      if (!this.absorb(err)) throw err
      return undefined
    }
  }

  async runAsync<T> (fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn()
    } catch (err) {
      if (!this.absorb(err)) throw err
      return undefined
    }
  }

  private absorb (err: unknown): boolean {
    if (err instanceof ConfigProblems) { this.items.push(...err.problems); return true }
    if (err instanceof ConfigError) {
      const prefix = `config: ${err.field}: `
      this.add(err.field, err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message)
      return true
    }
    return false
  }
}

type Issue = z.core.$ZodIssue

/** zod's issues as problems, with "did you mean" for unknown keys and mistyped names. */
export function problemsFromZod (issues: readonly Issue[], schema: z.ZodType, raw: unknown): ConfigProblem[] {
  const out: ConfigProblem[] = []
  for (const issue of issues) {
    const path = issue.path.map(String)
    if (issue.code === 'unrecognized_keys') {
      // One problem per key, named by the key itself: that is what the user has to find.
      const known = knownKeysAt(schema, issue.path, raw) ?? []
      for (const key of issue.keys) {
        out.push({ field: join([...path, key]), message: `unknown key${didYouMean(key, known)}${known.length > 0 ? `; allowed here: ${known.join(', ')}` : ''}` })
      }
      continue
    }
    const field = join(path)
    const value = valueAt(raw, issue.path)
    if (issue.code === 'invalid_value' && typeof value === 'string') {
      const values = issue.values.map(String)
      const match = closest(value, values)
      const list = values.length > 12 ? '' : `; expected one of: ${values.join(', ')}`
      out.push({ field, message: `"${value}" is not allowed${match === undefined ? '' : ` (did you mean "${match}"?)`}${list}` })
      continue
    }
    if (issue.code === 'invalid_union' && 'discriminator' in issue && typeof issue.discriminator === 'string') {
      out.push({ field: join([...path, issue.discriminator]), message: `missing or unknown ${issue.discriminator}${discriminatorHint(issue)}` })
      continue
    }
    out.push({ field, message: issue.message })
  }
  return out
}

function discriminatorHint (issue: Issue): string {
  const options = (issue as { options?: unknown[] }).options
  return Array.isArray(options) && options.length > 0 ? ` (one of: ${options.map(String).join(', ')})` : ''
}

function join (path: readonly string[]): string {
  return path.length === 0 ? '(root)' : path.join('.')
}

function valueAt (raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw
  for (const step of path) {
    if (typeof v !== 'object' || v === null) return undefined
    v = (v as Record<PropertyKey, unknown>)[step]
  }
  return v
}
