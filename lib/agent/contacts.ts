import { readFile } from 'node:fs/promises'
import { unwatchFile, watchFile, type Stats } from 'node:fs'
import { extname } from 'node:path'
import { createRequire } from 'node:module'
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml'
import type { Logger } from 'pino'
import { PhoneAgentError } from '../errors.ts'
import { toE164 } from '../numbers/e164.ts'

/**
 * The contact directory: who is calling, by E.164 number. It drives the greeting ("Buongiorno
 * Marco"), the language and the prompt, so its strings end up spoken and in the LLM prompt: they
 * are bounded and free of control characters. A bad row is skipped and reported with its line
 * number; it never stops the directory from loading.
 */

export interface Contact {
  /** E.164. */
  readonly number: string
  readonly name?: string
  readonly company?: string
  /** BCP-47 tag (`it-IT`). */
  readonly language?: string
  /** Free text for the prompt ("prefers mornings", "account 1234"). */
  readonly notes?: string
  readonly vip: boolean
}

export interface ContactIssue {
  /** 1-based line in the file where the row starts. */
  readonly line: number
  readonly message: string
}

export interface ContactsParseOptions {
  /** Country for national-format numbers (ISO 3166 two letters). */
  readonly defaultCountry: string
}

export type ContactsFormat = 'json' | 'csv'

const FIELDS = ['number', 'name', 'company', 'language', 'notes', 'vip'] as const
const LIMITS = { name: 100, company: 100, notes: 1000 } as const
const LANGUAGE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/
// Names are spoken and put in the prompt; notes may span lines but carry no other controls.
const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u
const CONTROL_EXCEPT_NEWLINE = /[\0-\x09\x0b-\x1f\x7f-\x9f\p{Cf}\u2028\u2029]/u

export class ContactDirectory {
  readonly #byNumber: ReadonlyMap<string, Contact>
  readonly #defaultCountry: string
  /** Rows that were skipped, with the reason. */
  readonly issues: readonly ContactIssue[]

  constructor (contacts: readonly Contact[], options: ContactsParseOptions & { issues?: readonly ContactIssue[] }) {
    this.#byNumber = new Map(contacts.map((c) => [c.number, c]))
    this.#defaultCountry = options.defaultCountry
    this.issues = options.issues ?? []
  }

  get size (): number {
    return this.#byNumber.size
  }

  /** The contact for a caller ID in any form (`+39…`, `0039…`, national, `sip:` URI). */
  lookup (number: string | undefined): Contact | undefined {
    const e164 = toE164(number, this.#defaultCountry)
    return e164 === undefined ? undefined : this.#byNumber.get(e164)
  }

  all (): Contact[] {
    return [...this.#byNumber.values()]
  }
}

/** Parse the text of a contacts file. Throws CONFIG_INVALID only when the file as a whole is unusable. */
export function parseContacts (text: string, format: ContactsFormat, options: ContactsParseOptions): { contacts: Contact[], issues: ContactIssue[] } {
  const rows = format === 'csv' ? csvRows(text) : jsonRows(text)
  const contacts: Contact[] = []
  const issues: ContactIssue[] = []
  const firstLine = new Map<string, number>()
  for (const row of rows) {
    const result = row.error === undefined ? toContact(row.fields, options) : row.error
    if (typeof result === 'string') {
      issues.push({ line: row.line, message: result })
      continue
    }
    const seen = firstLine.get(result.number)
    if (seen !== undefined) {
      issues.push({ line: row.line, message: `duplicate number, already on line ${seen}` })
      continue
    }
    firstLine.set(result.number, row.line)
    contacts.push(result)
  }
  return { contacts, issues }
}

/** Read and parse a contacts file; the format comes from the extension (`.csv`, else JSON). */
export async function loadContacts (path: string, options: ContactsParseOptions & { format?: ContactsFormat, log?: Logger }): Promise<ContactDirectory> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new PhoneAgentError('CONFIG_INVALID', `contacts file ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
  }
  const format = options.format ?? (extname(path).toLowerCase() === '.csv' ? 'csv' : 'json')
  let parsed: { contacts: Contact[], issues: ContactIssue[] }
  try {
    parsed = parseContacts(text, format, options)
  } catch (err) {
    if (err instanceof PhoneAgentError) throw new PhoneAgentError(err.code, `contacts file ${path}: ${err.message}`, { cause: err.cause })
    throw err
  }
  for (const issue of parsed.issues) options.log?.warn({ file: path, line: issue.line, problem: issue.message }, 'contact row skipped')
  return new ContactDirectory(parsed.contacts, { defaultCountry: options.defaultCountry, issues: parsed.issues })
}

/**
 * A directory that reloads itself when the file changes. The file is polled (fs.watchFile):
 * editors and config tools replace files by rename, which fs.watch loses track of. A reload that
 * fails keeps the previous directory; write the file atomically (write a temp file, rename).
 */
export class WatchedContacts {
  #current: ContactDirectory
  readonly #path: string
  readonly #listener: (curr: Stats, prev: Stats) => void
  #closed = false
  #reloading: Promise<void> = Promise.resolve()
  readonly #signal: AbortSignal | undefined
  readonly #onAbort = (): void => { void this.close() }

  private constructor (path: string, initial: ContactDirectory, options: WatchOptions) {
    this.#path = path
    this.#current = initial
    this.#listener = (curr, prev) => {
      if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size && curr.ino === prev.ino) return
      this.#reloading = this.#reloading.then(async () => {
        if (this.#closed) return
        try {
          const next = await loadContacts(path, options)
          if (this.#closed) return
          this.#current = next
          options.log?.info({ file: path, contacts: next.size, skipped: next.issues.length }, 'contacts reloaded')
          options.onReload?.(next)
        } catch (err) {
          options.log?.error({ file: path, err }, 'contacts reload failed, keeping the previous list')
        }
      })
    }
    watchFile(path, { interval: options.intervalMs ?? 2000, persistent: false }, this.#listener)
    this.#signal = options.signal
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  static async open (path: string, options: WatchOptions): Promise<WatchedContacts> {
    options.signal?.throwIfAborted()
    const initial = await loadContacts(path, options)
    return new WatchedContacts(path, initial, options)
  }

  get current (): ContactDirectory {
    return this.#current
  }

  lookup (number: string | undefined): Contact | undefined {
    return this.#current.lookup(number)
  }

  /** Stop watching; resolves once a reload in progress has settled. */
  async close (): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      unwatchFile(this.#path, this.#listener)
      this.#signal?.removeEventListener('abort', this.#onAbort)
    }
    await this.#reloading
  }
}

export interface WatchOptions extends ContactsParseOptions {
  readonly format?: ContactsFormat
  readonly log?: Logger
  /** Poll interval; default 2 s. */
  readonly intervalMs?: number
  readonly onReload?: (directory: ContactDirectory) => void
  /** Aborting stops watching. */
  readonly signal?: AbortSignal
}

type Row = { line: number, fields: Record<string, unknown>, error?: undefined } | { line: number, error: string }

function csvRows (text: string): Row[] {
  let records: Array<{ record: string[], info: { lines: number }, raw: string }>
  try {
    // Loaded when a CSV is read, not by every process importing the app.
    const { parse: parseCsv } = createRequire(import.meta.url)('csv-parse/sync') as typeof import('csv-parse/sync')
    records = parseCsv(text, { info: true, raw: true, bom: true, relax_column_count: true, skip_empty_lines: true, trim: true }) as unknown as typeof records
  } catch (err) {
    const line = (err as { lines?: unknown }).lines
    throw new PhoneAgentError('CONFIG_INVALID', `malformed CSV${typeof line === 'number' ? ` at line ${line}` : ''}: ${(err as Error).message}`, { cause: err })
  }
  const [head, ...body] = records
  if (head === undefined) return []
  const header = head.record.map((h) => h.toLowerCase())
  const unknown = header.filter((h) => !(FIELDS as readonly string[]).includes(h))
  if (!header.includes('number')) throw new PhoneAgentError('CONFIG_INVALID', 'the CSV header has no "number" column')
  if (unknown.length > 0) throw new PhoneAgentError('CONFIG_INVALID', `unknown CSV column(s): ${unknown.join(', ')} (expected ${FIELDS.join(', ')})`)
  return body.map(({ record, info, raw }) => {
    // info.lines is where the record ends; a quoted field may span lines.
    const line = info.lines - (raw.replace(/\r?\n$/u, '').match(/\n/gu)?.length ?? 0)
    if (record.length !== header.length) {
      return { line, error: `expected ${header.length} fields, found ${record.length}` }
    }
    const fields: Record<string, unknown> = {}
    header.forEach((h, i) => { if (record[i] !== '') fields[h] = record[i] })
    return { line, fields }
  })
}

function jsonRows (text: string): Row[] {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new PhoneAgentError('CONFIG_INVALID', `malformed JSON: ${(err as Error).message}`, { cause: err })
  }
  // JSON.parse has no positions; the same text through the YAML parser (a JSON superset) does.
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter })
  const lineOf = (node: unknown): number => {
    const range = (node as YamlNode | null)?.range
    return range ? lineCounter.linePos(range[0]).line : 0
  }
  if (Array.isArray(data)) {
    const items = isSeq(doc.contents) ? doc.contents.items : []
    return data.map((value, i) => isObject(value)
      ? { line: lineOf(items[i]), fields: value }
      : { line: lineOf(items[i]), error: 'a contact must be an object' })
  }
  if (data !== null && typeof data === 'object') {
    // `{ "+39…": { "name": … } }`: the number is the key.
    const pairs = isMap(doc.contents) ? doc.contents.items : []
    return Object.entries(data).map(([number, value], i) => isObject(value)
      ? { line: lineOf(pairs[i]?.key), fields: { ...value, number } }
      : { line: lineOf(pairs[i]?.key), error: 'a contact must be an object' })
  }
  throw new PhoneAgentError('CONFIG_INVALID', 'expected a JSON array of contacts or an object keyed by number')
}

function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** A valid contact, or the reason the row was skipped. */
function toContact (fields: Record<string, unknown>, options: ContactsParseOptions): Contact | string {
  const extra = Object.keys(fields).filter((k) => !(FIELDS as readonly string[]).includes(k))
  if (extra.length > 0) return `unknown field(s): ${extra.join(', ')}`
  const raw = fields.number
  if (typeof raw !== 'string' && typeof raw !== 'number') return 'missing number'
  const number = toE164(String(raw), options.defaultCountry)
  if (number === undefined) return 'number is not a phone number'

  const contact: { -readonly [K in keyof Contact]: Contact[K] } = { number, vip: false }
  for (const key of ['name', 'company', 'notes'] as const) {
    const value = fields[key]
    if (value === undefined || value === null || value === '') continue
    if (typeof value !== 'string') return `${key} must be text`
    const text = value.trim()
    if (text.length > LIMITS[key]) return `${key} is longer than ${LIMITS[key]} characters`
    if ((key === 'notes' ? CONTROL_EXCEPT_NEWLINE : CONTROL).test(text)) return `${key} contains control characters`
    if (text !== '') contact[key] = text
  }
  const language = fields.language
  if (language !== undefined && language !== null && language !== '') {
    if (typeof language !== 'string' || !LANGUAGE.test(language)) return 'language must be a tag such as it-IT'
    contact.language = language
  }
  const vip = parseVip(fields.vip)
  if (vip === undefined) return 'vip must be true or false'
  contact.vip = vip
  return contact
}

function parseVip (value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === '') return false
  if (typeof value === 'boolean') return value
  if (typeof value !== 'string') return undefined
  const v = value.toLowerCase()
  if (['true', 'yes', 'y', '1', 'si', 'sì', 'ja', 'x'].includes(v)) return true
  if (['false', 'no', 'n', '0', 'nein'].includes(v)) return false
  return undefined
}
