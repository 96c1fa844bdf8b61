import { z } from 'zod'

/**
 * Reads the config schema as data: every key path with its type, default and description. One
 * walk serves the generated configuration reference, "did you mean" for unknown keys, and the
 * test that fails when a key has no description. It reads zod's own definition objects
 * (`schema._zod.def`), which zod 4 documents as its introspection surface.
 */

interface Def {
  readonly type: string
  readonly shape?: Record<string, z.ZodType>
  readonly innerType?: z.ZodType
  readonly defaultValue?: unknown
  readonly keyType?: z.ZodType
  readonly valueType?: z.ZodType
  readonly element?: z.ZodType
  readonly options?: readonly z.ZodType[]
  readonly discriminator?: string
  readonly entries?: Record<string, string>
  readonly values?: readonly unknown[]
  readonly in?: z.ZodType
}

export function defOf (schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def
}

/** What a key looks like in the reference. */
export interface SchemaEntry {
  /** Dotted path; `<name>` stands for a key the user chooses (a route's number, a target's name). */
  readonly path: string
  /** Human type: `string`, `integer 0–65535`, `one of: a, b`, `list of string`, `section`... */
  readonly type: string
  /** The default as YAML-ish text, or undefined when the key has none. */
  readonly default: string | undefined
  readonly optional: boolean
  /** From `.describe()` / `.meta({ description })` on the schema, when its owner gave one. */
  readonly description: string | undefined
  /** Set for the fields of one branch of a `type:` union (`transfers.<name>.dialString` is `endpoint` only). */
  readonly when?: string | undefined
  /** True for objects whose keys are listed as entries of their own. */
  readonly section: boolean
}

/** Strip default/prefault/optional/nullable wrappers, noting what they said. */
export function unwrap (schema: z.ZodType): { inner: z.ZodType, default: unknown, hasDefault: boolean, optional: boolean } {
  let s = schema
  let dflt: unknown
  let hasDefault = false
  let optional = false
  for (;;) {
    const d = defOf(s)
    if (d.type === 'default' || d.type === 'prefault') {
      if (!hasDefault) {
        hasDefault = true
        dflt = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue
        // A prefault is the input fed to the inner schema; the reference shows what results.
        if (d.type === 'prefault') dflt = safeParse(d.innerType!, dflt)
      }
      s = d.innerType!
    } else if (d.type === 'optional' || d.type === 'nullable') {
      optional = true
      s = d.innerType!
    } else if (d.type === 'pipe' && d.in !== undefined) {
      s = d.in
    } else {
      return { inner: s, default: dflt, hasDefault, optional }
    }
  }
}

function safeParse (schema: z.ZodType, value: unknown): unknown {
  const r = schema.safeParse(value)
  return r.success ? r.data : value
}

function descriptionOf (schema: z.ZodType): string | undefined {
  const own = (schema as { description?: string }).description
  if (own !== undefined) return own
  const meta = z.globalRegistry.get(schema) as { description?: string } | undefined
  return meta?.description
}

/** Every key under `schema`, depth first, sections before their keys. */
export function schemaEntries (schema: z.ZodType, prefix = '', when?: string): SchemaEntry[] {
  const out: SchemaEntry[] = []
  const { inner } = unwrap(schema)
  const shape = defOf(inner).shape
  if (shape === undefined) return out
  for (const [key, child] of Object.entries(shape)) {
    const path = prefix === '' ? key : `${prefix}.${key}`
    out.push(...entriesFor(child, path, when))
  }
  return out
}

function entriesFor (schema: z.ZodType, path: string, when: string | undefined): SchemaEntry[] {
  const u = unwrap(schema)
  const d = defOf(u.inner)
  const description = descriptionOf(schema) ?? descriptionOf(u.inner)
  const base = {
    path,
    default: u.hasDefault ? formatDefault(u.default, d.type === 'object') : undefined,
    optional: u.optional || u.hasDefault,
    description,
    ...(when === undefined ? {} : { when }),
  }
  if (d.type === 'object') {
    return [{ ...base, type: 'section', section: true }, ...schemaEntries(u.inner, path, when)]
  }
  if (d.type === 'record') {
    const value = unwrap(d.valueType!)
    const word = keyName(path, d.keyType!)
    const placeholder = `<${word}>`
    const valueDef = defOf(value.inner)
    if (valueDef.type === 'object') {
      return [{ ...base, type: `map of ${word} to section`, section: true }, ...schemaEntries(value.inner, `${path}.${placeholder}`, when)]
    }
    if (valueDef.type === 'union' && valueDef.discriminator !== undefined) {
      return [{ ...base, type: `map of ${word} to section`, section: true }, ...unionEntries(valueDef, `${path}.${placeholder}`, when)]
    }
    return [{ ...base, type: `map of ${word} to ${typeName(d.valueType!)}`, section: false }]
  }
  if (d.type === 'union' && d.discriminator !== undefined) {
    return [{ ...base, type: 'section', section: true }, ...unionEntries(d, path, when)]
  }
  return [{ ...base, type: typeName(u.inner), section: false }]
}

/** A `type:`-discriminated union: the discriminator once, then each branch's own fields. */
function unionEntries (d: Def, path: string, when: string | undefined): SchemaEntry[] {
  const key = d.discriminator!
  const out: SchemaEntry[] = []
  const kinds: string[] = []
  const seen = new Set<string>()
  for (const option of d.options ?? []) {
    const shape = defOf(unwrap(option).inner).shape ?? {}
    const kind = literalOf(shape[key])
    kinds.push(kind)
    for (const [field, child] of Object.entries(shape)) {
      if (field === key) continue
      const fieldPath = `${path}.${field}`
      const label = `${key}: ${kind}`
      for (const e of entriesFor(child, fieldPath, when === undefined ? label : `${when}, ${label}`)) {
        const id = `${e.path}|${e.when ?? ''}`
        if (!seen.has(id)) { seen.add(id); out.push(e) }
      }
    }
  }
  const discriminator: SchemaEntry = {
    path: `${path}.${key}`, type: `one of: ${kinds.join(', ')}`, default: undefined, optional: false, description: undefined, section: false,
    ...(when === undefined ? {} : { when }),
  }
  return [discriminator, ...out]
}

function literalOf (schema: z.ZodType | undefined): string {
  if (schema === undefined) return '?'
  const d = defOf(unwrap(schema).inner)
  return String(d.values?.[0] ?? '?')
}

/** `routes` -> `number`, a map keyed by language tags -> `language`: what a placeholder key stands for. */
function keyName (path: string, keyType: z.ZodType): string {
  if (path === 'routes') return 'number'
  let pattern = ''
  try {
    pattern = String((z.toJSONSchema(keyType, { unrepresentable: 'any' }) as { pattern?: string }).pattern ?? '')
  } catch {}
  if (pattern.includes('[a-z]{2,3}')) return 'language'
  if (pattern.includes('\\d{4}')) return 'date'
  return 'name'
}

/** A one-line human type with its bounds: `integer 0–65535`, `one of: files, stream`. */
export function typeName (schema: z.ZodType): string {
  const { inner } = unwrap(schema)
  const d = defOf(inner)
  switch (d.type) {
    case 'enum': {
      const values = Object.values(d.entries ?? {})
      return values.length > 12 ? `one of ${values.length} names (see the error message for the list)` : `one of: ${values.join(', ')}`
    }
    case 'literal': return `\`${(d.values ?? []).map(String).join(' | ')}\``
    case 'array': return `list of ${typeName(d.element!)}`
    case 'record': return `map of key to ${typeName(d.valueType!)}`
    case 'union': return (d.options ?? []).map((o) => typeName(o)).join(' or ')
    case 'object': return 'section'
    case 'string': case 'number': case 'boolean': return boundsOf(inner, d.type)
    default: return d.type
  }
}

function boundsOf (schema: z.ZodType, type: string): string {
  let json: Record<string, unknown> = {}
  try {
    json = z.toJSONSchema(schema, { unrepresentable: 'any' }) as Record<string, unknown>
  } catch {}
  if (type === 'number') {
    const integer = json.type === 'integer'
    const name = integer ? 'integer' : 'number'
    const num = (v: unknown): number | undefined => typeof v === 'number' && Math.abs(v) < Number.MAX_SAFE_INTEGER ? v : undefined
    const exclusive = num(json.exclusiveMinimum)
    const min = num(json.minimum) ?? (exclusive !== undefined && integer ? exclusive + 1 : undefined)
    const max = num(json.maximum)
    if (min !== undefined && max !== undefined) return `${name} ${min}–${max}`
    if (min !== undefined) return `${name} ≥ ${min}`
    if (exclusive !== undefined) return max === undefined ? `${name} > ${exclusive}` : `${name} > ${exclusive}, ≤ ${max}`
    if (max !== undefined) return `${name} ≤ ${max}`
    return name
  }
  if (type === 'string' && typeof json.format === 'string') return `string (${json.format})`
  return type
}

function formatDefault (value: unknown, section: boolean): string | undefined {
  if (section) return undefined
  if (value === undefined) return undefined
  if (typeof value === 'string') return value === '' ? '""' : value.length > 60 ? 'built-in text' : value
  // Texts per language: the languages are what matters, the texts are in the schema.
  if (isRecord(value) && Object.values(value).some((v) => typeof v === 'string' && v.length > 20)) {
    return `built-in texts for ${Object.keys(value).join(', ')}`
  }
  if (Array.isArray(value) && value.length === 0) return '[]'
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) return '{}'
  return JSON.stringify(value)
}

/**
 * The keys an object accepts at `path` in the raw config (`raw` picks the branch of a `type:`
 * union), for "did you mean" on an unknown key. Undefined when the path is not an object.
 */
export function knownKeysAt (schema: z.ZodType, path: readonly PropertyKey[], raw: unknown): string[] | undefined {
  let s = unwrap(schema).inner
  let value = raw
  for (const step of path) {
    const d = defOf(s)
    value = isRecord(value) ? value[String(step)] : undefined
    if (d.type === 'object') {
      const child = d.shape?.[String(step)]
      if (child === undefined) return undefined
      s = unwrap(child).inner
    } else if (d.type === 'record') {
      s = unwrap(d.valueType!).inner
    } else if (d.type === 'array') {
      s = unwrap(d.element!).inner
    } else {
      return undefined
    }
    s = pickBranch(s, value)
  }
  const shape = defOf(pickBranch(s, value)).shape
  return shape === undefined ? undefined : Object.keys(shape)
}

function pickBranch (s: z.ZodType, value: unknown): z.ZodType {
  const d = defOf(s)
  if (d.type !== 'union' || d.discriminator === undefined) return s
  const wanted = isRecord(value) ? value[d.discriminator] : undefined
  for (const option of d.options ?? []) {
    const inner = unwrap(option).inner
    if (literalOf(defOf(inner).shape?.[d.discriminator]) === String(wanted)) return inner
  }
  return s
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
