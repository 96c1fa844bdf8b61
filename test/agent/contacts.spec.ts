import t from 'tap'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EventEmitter } from 'node:events'
import { Writable } from 'node:stream'
import pino from 'pino'
import { ContactDirectory, WatchedContacts, loadContacts, parseContacts } from '../../lib/agent/contacts.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'

const IT = { defaultCountry: 'IT' }

/** The error `fn` throws (or rejects with); undefined when it does not. */
async function caught (fn: () => unknown): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  return undefined
}

async function waitFor (predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000
  while (!predicate() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
}

function isInvalid (err: unknown, message: RegExp): boolean {
  return isPhoneAgentError(err, 'CONFIG_INVALID') && message.test(err.message)
}

function sinkLogger (): { log: pino.Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    },
  })
  return { log: pino({ level: 'debug' }, stream), lines }
}

t.test('CSV: numbers normalised, fields typed, bad rows reported by line', async (t) => {
  const csv = [
    'number,name,company,language,notes,vip', // 1
    '02 1234 5678,Marco Rossi,ACME,it-IT,"Prefers mornings', // 2
    'second line of notes",yes', // 3
    '', // 4
    '+49 30 123456,Anna Schmidt,,de-DE,,no', // 5
    'not-a-number,Bad,,,,', // 6
    '0039 02 1234 5678,Duplicate,,,,', // 7
    '3331234567,Too,Many,it-IT,,,extra', // 8
    '3331234567,Luca,,english,,', // 9
    '3331234568,Vip Maybe,,,,perhaps', // 10
    '"3331234569","Ctl\u0007Name",,,,', // 11
    '3331234570,,,,,1', // 12
  ].join('\n')
  const { contacts, issues } = parseContacts(csv, 'csv', IT)
  t.strictSame(contacts, [
    { number: '+390212345678', vip: true, name: 'Marco Rossi', company: 'ACME', notes: 'Prefers mornings\nsecond line of notes', language: 'it-IT' },
    { number: '+4930123456', vip: false, name: 'Anna Schmidt', language: 'de-DE' },
    { number: '+393331234570', vip: true },
  ])
  t.strictSame(issues, [
    { line: 6, message: 'number is not a phone number' },
    { line: 7, message: 'duplicate number, already on line 2' },
    { line: 8, message: 'expected 6 fields, found 7' },
    { line: 9, message: 'language must be a tag such as it-IT' },
    { line: 10, message: 'vip must be true or false' },
    { line: 11, message: 'name contains control characters' },
  ])
})

t.test('CSV: column order comes from the header; only number is required', async (t) => {
  const { contacts, issues } = parseContacts('\uFEFFName,Number\r\nMarco,+390212345678\r\n', 'csv', IT)
  t.strictSame(contacts, [{ number: '+390212345678', vip: false, name: 'Marco' }])
  t.strictSame(issues, [])
})

t.test('CSV: a file that cannot be used at all throws CONFIG_INVALID', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['name,company\nMarco,ACME\n', /no "number" column/],
    ['number,name,password\n1,2,3\n', /unknown CSV column\(s\): password/],
    ['number,name\n+390212345678,"Marco\n', /malformed CSV at line \d/],
  ]
  for (const [text, message] of cases) {
    t.ok(isInvalid(await caught(() => parseContacts(text, 'csv', IT)), message), String(message))
  }
  t.strictSame(parseContacts('', 'csv', IT), { contacts: [], issues: [] }, 'an empty file is an empty directory')
})

t.test('JSON array: rows reported with their line numbers', async (t) => {
  const json = `[
  { "number": "+39 02 1234 5678", "name": "Marco Rossi", "vip": true },
  { "number": "12", "name": "Too short" },
  "just a string",
  { "number": "+4930123456", "name": "Anna", "role": "admin" },
  { "number": "+4930123457", "name": ${JSON.stringify('x'.repeat(101))} },
  { "number": "+4930123458", "__proto__": { "vip": true } },
  { "number": 390212345679, "company": "Numeric number" }
]`
  const { contacts, issues } = parseContacts(json, 'json', IT)
  t.strictSame(contacts, [
    { number: '+390212345678', vip: true, name: 'Marco Rossi' },
    { number: '+390212345679', vip: false, company: 'Numeric number' },
  ])
  t.strictSame(issues, [
    { line: 3, message: 'number is not a phone number' },
    { line: 4, message: 'a contact must be an object' },
    { line: 5, message: 'unknown field(s): role' },
    { line: 6, message: 'name is longer than 100 characters' },
    { line: 7, message: 'unknown field(s): __proto__' },
  ])
})

t.test('JSON object keyed by number', async (t) => {
  const json = '{\n  "+390212345678": { "name": "Marco", "language": "it-IT" },\n  "garbage": { "name": "X" }\n}'
  const { contacts, issues } = parseContacts(json, 'json', IT)
  t.strictSame(contacts, [{ number: '+390212345678', vip: false, name: 'Marco', language: 'it-IT' }])
  t.strictSame(issues, [{ line: 3, message: 'number is not a phone number' }])
})

t.test('JSON that is not JSON, or not a list, throws CONFIG_INVALID', async (t) => {
  t.ok(isInvalid(await caught(() => parseContacts('[{ "number": 1,, }]', 'json', IT)), /malformed JSON/))
  t.ok(isInvalid(await caught(() => parseContacts('"hello"', 'json', IT)), /expected a JSON array/))
  t.ok(isInvalid(await caught(() => parseContacts('number: 1', 'json', IT)), /malformed JSON/), 'YAML is not accepted as JSON')
})

t.test('lookup takes a caller ID in any form', async (t) => {
  const dir = new ContactDirectory([{ number: '+390212345678', vip: false, name: 'Marco' }], IT)
  for (const form of ['+390212345678', '00390212345678', '02 1234 5678', 'sip:+390212345678@carrier.example;user=phone']) {
    t.equal(dir.lookup(form)?.name, 'Marco', form)
  }
  t.equal(dir.lookup('anonymous'), undefined)
  t.equal(dir.lookup(undefined), undefined)
  t.equal(dir.lookup('+390212345679'), undefined)
  t.equal(dir.size, 1)
})

t.test('loadContacts picks the format from the extension and logs skipped rows', async (t) => {
  const dir = t.testdir({
    'people.csv': 'number,name\n+390212345678,Marco\nxyz,Bad\n',
    'people.json': '[{ "number": "+390212345678", "name": "Marco" }]',
  })
  const { log, lines } = sinkLogger()
  const csv = await loadContacts(join(dir, 'people.csv'), { ...IT, log })
  t.equal(csv.lookup('+390212345678')?.name, 'Marco')
  t.strictSame(csv.issues, [{ line: 3, message: 'number is not a phone number' }])
  t.equal(lines.length, 1)
  t.match(lines[0], { level: 40, msg: 'contact row skipped', line: 3, problem: 'number is not a phone number' })
  const json = await loadContacts(join(dir, 'people.json'), IT)
  t.equal(json.size, 1)
  t.ok(isInvalid(await caught(() => loadContacts(join(dir, 'missing.json'), IT)), /cannot read: ENOENT/))
})

t.test('WatchedContacts reloads on change, keeps the old list on a bad file, stops on abort', async (t) => {
  const dir = t.testdir({ 'c.json': '[{ "number": "+390212345678", "name": "Marco" }]' })
  const file = join(dir, 'c.json')
  const { log, lines } = sinkLogger()
  const reloads = new EventEmitter()
  let reloadCount = 0
  reloads.on('reload', () => { reloadCount++ })
  const ac = new AbortController()
  const watched = await WatchedContacts.open(file, { ...IT, log, intervalMs: 20, signal: ac.signal, onReload: (d) => reloads.emit('reload', d) })
  t.teardown(() => watched.close())
  t.equal(watched.lookup('+390212345678')?.name, 'Marco')

  // Atomic replace (write + rename), as the docs ask.
  await writeFile(file + '.tmp', '[{ "number": "+390212345678", "name": "Marco Rossi" }, { "number": "+4930123456", "name": "Anna" }]')
  await rename(file + '.tmp', file)
  // The watcher does not hold the process open (persistent: false), so poll with timers.
  await waitFor(() => reloadCount === 1)
  t.equal(watched.lookup('+390212345678')?.name, 'Marco Rossi')
  t.equal(watched.current.size, 2)

  await writeFile(file, '[ broken')
  await waitFor(() => lines.some((l) => l.msg === 'contacts reload failed, keeping the previous list'))
  t.ok(lines.some((l) => l.msg === 'contacts reload failed, keeping the previous list' && l.level === 50), 'failure logged')
  t.equal(watched.current.size, 2, 'previous list kept')

  ac.abort()
  await watched.close()
  let reloaded = false
  reloads.on('reload', () => { reloaded = true })
  await writeFile(file, '[]')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.notOk(reloaded, 'no reload after abort')
  t.equal(watched.current.size, 2)
})
