import t, { type Test } from 'tap'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ConsoleAuth } from '../../lib/console/auth.ts'
import { createConsole } from '../../lib/console/server.ts'
import { numberShown } from '../../lib/notify/mask.ts'
import { captureLogs } from '../helpers/logs.ts'
import { recordCall, tempStore } from '../notify/helpers.ts'

async function serve (t: Test, token: string | undefined, loopbackOnly: boolean, mask = false): Promise<string> {
  const db = await tempStore()
  await recordCall(db.store, { uuid: 'c1', message: { text: 'hello' } })
  const handler = createConsole({
    store: db.store, live: () => [], auth: new ConsoleAuth(token), loopbackOnly, recordingsDir: db.dir,
    view: { number: numberShown(mask) }, logger: captureLogs().logger,
  })
  const server: Server = createServer((req, res) => {
    void handler(req, res).then((handled) => { if (!handled) res.writeHead(404).end() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); await db.cleanup() })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('with a token: pages need the login; the cookie is not the token; a wrong token is refused', async (t) => {
  const token = 'correct-horse-battery-staple'
  const url = await serve(t, token, false)
  const anon = await fetch(`${url}/console/calls`, { redirect: 'manual' })
  t.equal(anon.status, 303)
  t.equal(anon.headers.get('location'), '/console/login')
  t.equal((await fetch(`${url}/console/messages/c1/1`, { method: 'POST', body: 'done=1' })).status, 401)
  const wrong = await fetch(`${url}/console/login`, { method: 'POST', body: 'token=nope', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' })
  t.equal(wrong.status, 401)
  const ok = await fetch(`${url}/console/login`, { method: 'POST', body: `token=${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' })
  t.equal(ok.status, 303)
  const cookie = ok.headers.get('set-cookie') ?? ''
  t.match(cookie, /^pa_console=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/console$/)
  t.notMatch(cookie, token)
  const page = await fetch(`${url}/console/calls`, { headers: { cookie: cookie.split(';')[0]! } })
  t.equal(page.status, 200)
  t.match(await page.text(), 'Anna Rossi')
  t.match(page.headers.get('content-security-policy'), /default-src 'none'/)
  t.equal((await fetch(`${url}/console/calls`, { headers: { authorization: `Bearer ${token}` } })).status, 200, 'bearer token for scripts')
  t.equal((await fetch(`${url}/metrics`)).status, 404, 'other paths are not the console\'s')
})

t.test('on loopback: no login, but only loopback Host names (DNS rebinding), and POSTs need the CSRF token', async (t) => {
  const url = await serve(t, undefined, true, true)
  const page = await fetch(`${url}/console/messages`)
  t.equal(page.status, 200)
  const body = await page.text()
  t.notMatch(body, '3331234567', 'numbers masked with privacy.maskCallerNumbers')
  t.match(body, /\+39•+67/, 'country code and last two digits kept')
  const csrf = /name="csrf" value="([0-9a-f]+)"/.exec(body)?.[1]
  t.ok(csrf)
  const { request } = await import('node:http')
  const status = await new Promise<number>((resolve) => {
    request(`${url}/console/calls`, { headers: { host: 'evil.example:80' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).end()
  })
  t.equal(status, 403, 'a foreign Host is refused')
  const post = (form: string, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${url}/console/messages/c1/1`, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, redirect: 'manual' })
  t.equal((await post('done=1')).status, 403, 'no token')
  t.equal((await post(`done=1&csrf=${csrf}`, { 'sec-fetch-site': 'cross-site' })).status, 403, 'cross-site by the browser\'s word')
  t.equal((await post(`done=1&csrf=${csrf}`)).status, 303)
  t.notMatch(await (await fetch(`${url}/console/messages`)).text(), 'hello', 'marked done')
  t.equal((await fetch(`${url}/console/messages/nope/1`, { method: 'POST', body: `done=1&csrf=${csrf}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status, 404)
  t.equal((await fetch(`${url}/console/audio/c1/1`)).status, 404, 'no recording, no file')
  t.equal((await fetch(`${url}/console/calls/nope`)).status, 404)
})
