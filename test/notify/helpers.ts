import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SMTPServer } from 'smtp-server'
import { encodeWav } from '../../lib/media/wav.ts'
import { openSqliteDriver } from '../../lib/records/sqlite-driver.ts'
import { openSqlCallStore } from '../../lib/records/store.ts'
import type { CallStore } from '../../lib/records/types.ts'
import { captureLogs } from '../helpers/logs.ts'

export interface TestStore {
  readonly store: CallStore
  readonly dir: string
  readonly dbPath: string
  reopen (): Promise<CallStore>
  cleanup (): Promise<void>
}

/** A SQLite store in a temp dir (a file, so a "restart" can reopen it). */
export async function tempStore (now?: () => number): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-owner-'))
  const dbPath = join(dir, 'calls.db')
  const { logger } = captureLogs('warn')
  const open = async (): Promise<CallStore> => await openSqlCallStore({ driver: openSqliteDriver(dbPath), instance: 'test', logger, now })
  const opened: CallStore[] = [await open()]
  return {
    store: opened[0] as CallStore,
    dir,
    dbPath,
    reopen: async () => { const s = await open(); opened.push(s); return s },
    cleanup: async () => {
      for (const s of opened) await s.close().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** A short 8 kHz WAV on disk, as a message recording. */
export async function messageWav (dir: string, name = 'message.wav'): Promise<string> {
  const samples = new Int16Array(8000)
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin(i / 5))
  await mkdir(join(dir, 'recordings'), { recursive: true })
  const path = join(dir, 'recordings', name)
  await writeFile(path, encodeWav({ sampleRate: 8000, channels: 1, samples }))
  return path
}

export interface CallSpec {
  readonly uuid: string
  readonly callerName?: string
  readonly callerNumber?: string
  readonly startedAt?: number
  readonly outcome?: 'completed' | 'message_taken' | 'failed' | 'rejected' | 'transferred'
  readonly message?: { text: string, recordingPath?: string } | undefined
  readonly turns?: ReadonlyArray<{ role: 'caller' | 'agent', text: string, interrupted?: boolean }>
  readonly rejectionReason?: string
  readonly error?: { code: string, message: string, provider?: string }
  readonly cost?: number
}

/** Records one finished call the way the call core would. */
export async function recordCall (records: Pick<CallStore, 'begin'>, spec: CallSpec): Promise<void> {
  const at = spec.startedAt ?? Date.now()
  const rec = records.begin({ uuid: spec.uuid, did: '+390212345678', callerNumber: spec.callerNumber ?? '+393331234567', callerName: spec.callerName ?? 'Anna Rossi', script: 'take-message', mediaMode: 'stream', startedAt: at })
  if (spec.rejectionReason !== undefined) rec.rejected(spec.rejectionReason)
  else rec.answered(at + 500)
  let t = at + 1000
  for (const turn of spec.turns ?? []) {
    rec.turn({ role: turn.role, text: turn.text, at: t, interrupted: turn.interrupted })
    t += 1000
  }
  if (spec.turns !== undefined && spec.turns.length > 0) {
    rec.latency({ turn: 1, speechEndAt: at + 1000, sttFinalAt: at + 1200, llmFirstTokenAt: at + 1500, firstSentenceAt: at + 1600, ttsAudioAt: at + 1800, firstFrameAt: at + 1850 })
  }
  if (spec.message !== undefined) rec.message({ name: spec.callerName ?? 'Anna Rossi', number: spec.callerNumber ?? '+393331234567', text: spec.message.text, recordingPath: spec.message.recordingPath, at: t })
  if (spec.error !== undefined) rec.error({ ...spec.error, at: t })
  if (spec.cost !== undefined) rec.usage({ costEstimate: spec.cost })
  await rec.end({ outcome: spec.outcome ?? (spec.message === undefined ? 'completed' : 'message_taken'), endedAt: t + 1000 })
}

export interface Received { headers: IncomingMessage['headers'], body: string }

/** A loopback HTTP receiver answering with the statuses given in turn (then 200). */
export async function receiver (statuses: number[] = []): Promise<{ url: string, received: Received[], server: Server, close (): Promise<void> }> {
  const received: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      res.writeHead(statuses.shift() ?? 200).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/hook`, received, server,
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) },
  }
}

/** A loopback SMTP server (no TLS, any login) that keeps each message's raw text. */
export async function smtpSink (): Promise<{ port: number, mails: Array<{ from: string, to: string[], raw: string, user?: string }>, close (): Promise<void> }> {
  const mails: Array<{ from: string, to: string[], raw: string, user?: string }> = []
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    onAuth (auth, _session, cb) {
      if (auth.password === 'smtp-secret') cb(null, { user: auth.username })
      else cb(new Error('bad password'))
    },
    onData (stream, session, cb) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: typeof session.user === 'string' ? session.user : undefined,
        })
        cb()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = ((server as unknown as { server: Server }).server.address() as AddressInfo).port
  return { port, mails, close: async () => { await new Promise<void>((resolve) => server.close(() => resolve())) } }
}
