import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { relative, resolve, isAbsolute } from 'node:path'
import type { Logger } from 'pino'
import { callRecordingPath, MessageTable, OutboxTable, purgedAt, searchCalls } from '../records/owner-sql.ts'
import { RECORDED_OUTCOMES, type CallFilter, type CallStore, type RecordedOutcome } from '../records/types.ts'
import type { LiveCall } from '../notify/call-watch.ts'
import { ConsoleAuth, hostAllowed, SESSION_COOKIE } from './auth.ts'
import { html, page, type Html, type PageOptions } from './html.ts'
import { callListBody, callPageBody, type CallListQuery, type View } from './pages-calls.ts'
import { liveBody, loginBody, messagesBody } from './pages-live.ts'

/** Handles `/console...`; resolves false for any other path (the ops server answers those). */
export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>

export interface ConsoleDeps {
  readonly store: Pick<CallStore, 'list' | 'get' | 'sql'>
  readonly live: () => LiveCall[]
  readonly auth: ConsoleAuth
  /** Bound to loopback: only loopback Host names are answered (DNS rebinding). */
  readonly loopbackOnly: boolean
  /** Audio is served only from under here. */
  readonly recordingsDir: string
  readonly view: View
  /** Normalises the caller and DID filters as the server stores them (E.164). */
  readonly normalizeNumber?: ((value: string) => string | undefined) | undefined
  /** The digest page's body for a day (`YYYY-MM-DD`, yesterday when absent). */
  readonly digest?: ((day: string | undefined) => Promise<Html>) | undefined
  readonly now?: (() => number) | undefined
  readonly logger: Logger
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; media-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // Not no-referrer: with it Chromium sends `Origin: null` on our own form posts, which the CSRF check refuses.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
}

const DAY = /^\d{4}-\d{2}-\d{2}$/

/**
 * The web console: server-rendered pages over the records database, no front-end build, no
 * script. Routes: live, calls (filters, transcript search), a call, messages to return (POST
 * done/undone), the digest, message audio, and the login when a token is configured.
 */
export function createConsole (deps: ConsoleDeps): ConsoleHandler {
  const messages = new MessageTable(deps.store.sql)
  const now = deps.now ?? Date.now
  const send = (res: ServerResponse, status: number, body: string, type = 'text/html; charset=utf-8', extra: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': type, ...SECURITY_HEADERS, ...extra }).end(body)
  }
  const show = (res: ServerResponse, nav: PageOptions['nav'], title: string, body: Html): void => { send(res, 200, page({ title, nav, body })) }

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://console.invalid')
    const path = url.pathname
    if (path !== '/console' && !path.startsWith('/console/')) return false
    if (!hostAllowed(req, deps.loopbackOnly)) {
      send(res, 403, 'forbidden host\n', 'text/plain; charset=utf-8')
      return true
    }
    if (path === '/console/login') {
      if (req.method === 'POST') {
        const form = await readForm(req)
        const cookie = deps.auth.login(form.get('token') ?? '')
        if (cookie === undefined) { send(res, 401, page({ title: 'Log in', nav: 'live', body: loginBody(true) })); return true }
        res.writeHead(303, { location: '/console/live', 'set-cookie': `${SESSION_COOKIE}=${cookie}; HttpOnly; SameSite=Strict; Path=/console`, ...SECURITY_HEADERS }).end()
        return true
      }
      send(res, 200, page({ title: 'Log in', nav: 'live', body: loginBody(false) }))
      return true
    }
    if (!deps.auth.allowed(req)) {
      if (req.method === 'GET') res.writeHead(303, { location: '/console/login', ...SECURITY_HEADERS }).end()
      else send(res, 401, 'log in first\n', 'text/plain; charset=utf-8')
      return true
    }
    const parts = path.split('/').slice(2).map((p) => decodeURIComponent(p))
    if (req.method === 'POST' && parts[0] === 'messages' && parts.length === 3) {
      const form = await readForm(req)
      if (!deps.auth.postAllowed(req, form.get('csrf') ?? undefined)) { send(res, 403, 'cross-site request refused\n', 'text/plain; charset=utf-8'); return true }
      const seq = Number(parts[2])
      const ok = Number.isInteger(seq) && await messages.setHandled(parts[1] ?? '', seq, form.get('done') === '1' ? now() : null)
      if (!ok) { send(res, 404, 'no such message\n', 'text/plain; charset=utf-8'); return true }
      res.writeHead(303, { location: '/console/messages', ...SECURITY_HEADERS }).end()
      return true
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'method not allowed\n', 'text/plain; charset=utf-8', { allow: 'GET, HEAD' })
      return true
    }
    switch (parts[0] ?? '') {
      case '':
      case 'live':
        if (parts[0] === undefined || parts[0] === '') { res.writeHead(303, { location: '/console/live', ...SECURITY_HEADERS }).end(); return true }
        send(res, 200, page({ title: 'Live calls', nav: 'live', body: liveBody(deps.live(), now(), deps.view) }), 'text/html; charset=utf-8', { refresh: '5' })
        return true
      case 'calls': {
        if (parts.length === 2) {
          const uuid = parts[1] ?? ''
          const call = await deps.store.get(uuid)
          if (call === undefined) { send(res, 404, page({ title: 'Not found', nav: 'calls', body: loginBodyNotFound() })); return true }
          const deliveries = await new OutboxTable(deps.store.sql).forRef(uuid)
          show(res, 'calls', 'Call', callPageBody(call, await messages.extras(uuid), await purgedAt(deps.store.sql, uuid), deliveries, deps.view))
          return true
        }
        const query = callQuery(url.searchParams)
        show(res, 'calls', 'Calls', callListBody(await listCalls(deps, query), query, deps.view))
        return true
      }
      case 'messages': {
        const all = url.searchParams.get('all') === '1'
        show(res, 'messages', 'Messages to return', messagesBody(await messages.toReturn({ includeHandled: all, limit: 500 }), all, deps.auth.csrf(req), deps.view))
        return true
      }
      case 'digest': {
        const day = url.searchParams.get('day') ?? undefined
        if (deps.digest === undefined || (day !== undefined && !DAY.test(day))) { send(res, 404, 'no digest\n', 'text/plain; charset=utf-8'); return true }
        show(res, 'digest', 'Digest', await deps.digest(day))
        return true
      }
      case 'audio':
        await serveAudio(req, res, parts, messages, deps)
        return true
      default:
        send(res, 404, 'not found\n', 'text/plain; charset=utf-8')
        return true
    }
  }
}

function loginBodyNotFound (): Html {
  return html`<h1>No such call</h1>`
}

function callQuery (p: URLSearchParams): CallListQuery {
  const v = (k: string): string | undefined => { const x = p.get(k)?.trim(); return x === undefined || x === '' ? undefined : x.slice(0, 200) }
  return { from: v('from'), to: v('to'), outcome: v('outcome'), caller: v('caller'), did: v('did'), q: v('q') }
}

async function listCalls (deps: ConsoleDeps, q: CallListQuery): Promise<Awaited<ReturnType<CallStore['list']>>> {
  const day = (s: string | undefined, plus: number): number | undefined => s !== undefined && DAY.test(s) ? new Date(`${s}T00:00`).getTime() + plus : undefined
  const number = (s: string | undefined): string | undefined => s === undefined ? undefined : deps.normalizeNumber?.(s) ?? s
  const outcome = q.outcome !== undefined && (RECORDED_OUTCOMES as readonly string[]).includes(q.outcome) ? [q.outcome as RecordedOutcome] : undefined
  const filter: CallFilter = { since: day(q.from, 0), until: day(q.to, 86_400_000), did: number(q.did), caller: number(q.caller), outcomes: outcome }
  if (q.q === undefined) return await deps.store.list({ ...filter, limit: 200 })
  const matching = new Set(await searchCalls(deps.store.sql, q.q, 1000))
  return (await deps.store.list({ ...filter, limit: 5000 })).filter((c) => matching.has(c.uuid)).slice(0, 200)
}

async function serveAudio (req: IncomingMessage, res: ServerResponse, parts: string[], messages: MessageTable, deps: ConsoleDeps): Promise<void> {
  const seq = Number(parts[2])
  // `/console/audio/<uuid>/call`: the whole-call recording; `/<uuid>/<n>`: message n.
  const path = parts.length !== 3 ? null : parts[2] === 'call' ? await callRecordingPath(deps.store.sql, parts[1] ?? '')
    : Number.isInteger(seq) ? await messages.recordingPath(parts[1] ?? '', seq) : null
  // The path comes from our own rows, and still must sit under the recordings directory.
  const rel = path === null ? '..' : relative(resolve(deps.recordingsDir), resolve(path))
  const size = path === null || rel.startsWith('..') || isAbsolute(rel) || !path.endsWith('.wav') ? undefined : await stat(path).then((s) => s.size, () => undefined)
  if (path === null || size === undefined) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end('no recording\n')
    return
  }
  res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': String(size), ...SECURITY_HEADERS })
  if (req.method === 'HEAD') { res.end(); return }
  createReadStream(path).on('error', (err) => { deps.logger.warn({ err }, 'recording unreadable'); res.destroy() }).pipe(res)
}

async function readForm (req: IncomingMessage): Promise<URLSearchParams> {
  let body = ''
  for await (const chunk of req) {
    body += String(chunk)
    if (body.length > 10_000) break
  }
  return new URLSearchParams(body)
}
