/**
 * What a pre-connect saves the first request after a quiet spell (issue 14): a provider request
 * over TLS on a pool with no connection open (the first turn after 30 s without calls, before
 * lib/providers/warm-sockets.ts), against the same request after `preconnect()` (the connection
 * opened while the caller was still speaking), and on a kept-alive connection for reference.
 *
 *   node --import tsx bench/preconnect.ts [--rounds=30] [--no-write]
 *
 * The HTTPS server runs in a child process (a certificate made for the run with `openssl`), so
 * only our side of the handshake is on this process's loop. Loopback has no round-trip time:
 * against a real provider each handshake also costs one to three network round trips (TCP, then
 * TLS 1.3 or 1.2), tens of ms over the internet, which these figures leave out. Writes the
 * `preconnect` section of BENCHMARKS.md unless `--no-write`.
 */
import { execFileSync, fork } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProviderPool } from '../lib/providers/warm-sockets.ts'
import { spliceSection } from './sections.ts'

if (process.argv[2] === '--server') {
  const dir = process.argv[3] as string
  const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')), keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume()
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}') })
  })
  server.listen(0, '127.0.0.1', () => { process.send?.({ port: (server.address() as AddressInfo).port }) })
  process.on('disconnect', () => { process.exit(0) })
} else {
  await main()
}

async function main (): Promise<void> {
  const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 30)
  const startLoad = loadavg()[0] ?? NaN
  const dir = mkdtempSync(join(tmpdir(), 'pa-bench-tls-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    const ca = readFileSync(join(dir, 'cert.pem'))
    const child = fork(fileURLToPath(import.meta.url), ['--server', dir], { execArgv: ['--import', 'tsx'] })
    const port = await new Promise<number>((resolve) => { child.once('message', (m) => { resolve((m as { port: number }).port) }) })
    const origin = `https://localhost:${port}`
    const request = async (pool: ProviderPool): Promise<number> => {
      const from = performance.now()
      const res = await pool.request({ origin, path: '/v1/chat/completions', method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
      await res.body.text()
      return performance.now() - from
    }
    const cold: number[] = []
    const preconnected: number[] = []
    const kept: number[] = []
    // One of each first, not counted (module loading, JIT).
    for (let i = -1; i < rounds; i++) {
      const a = new ProviderPool(30_000, { ca })
      const first = await request(a)
      await new Promise((resolve) => setImmediate(resolve))
      const second = await request(a)
      await a.destroy()
      const b = new ProviderPool(30_000, { ca })
      b.preconnect(origin)
      while (b.parkedCount(origin) < 2) await new Promise((resolve) => setTimeout(resolve, 1))
      const warm = await request(b)
      b.dropParked()
      await b.destroy()
      if (i < 0) continue
      cold.push(first)
      kept.push(second)
      preconnected.push(warm)
    }
    child.disconnect()
    const result = { rounds, coldMs: stats(cold), preconnectedMs: stats(preconnected), keptAliveMs: stats(kept) }
    process.stdout.write(`${JSON.stringify(result)}\n`)
    if (process.argv.includes('--no-write')) return
    const [one, five] = loadavg()
    const ms = (v: number): string => `${v.toFixed(2)} ms`
    const section = [
      '<!-- preconnect:begin -->',
      '## Pre-connect (first request after a quiet spell)',
      '',
      `Command: \`node --import tsx bench/preconnect.ts --rounds=${rounds}\`. One POST and its answer over TLS (P-256, TLS 1.3) to an HTTPS`,
      'server in a child process on loopback, through the providers\' pool (`lib/providers/warm-sockets.ts`): on a',
      'pool with no connection (the first turn after 30 s without calls), after `preconnect()` (the',
      'connection opened while the caller speaks), and on a kept-alive connection. Loopback has no',
      'round-trip time: against a real provider a handshake also costs one to three network round',
      'trips (tens of ms over the internet), left out here.',
      `Measured on ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, load average ${startLoad.toFixed(1)} (1 min) at the start, ${one?.toFixed(1)} / ${five?.toFixed(1)} (1 / 5 min) at the end.`,
      '',
      '| the request | p50 | p90 |',
      '|---|---|---|',
      `| no connection open: TCP and TLS handshakes first | ${ms(result.coldMs.p50)} | ${ms(result.coldMs.p90)} |`,
      `| pre-connected | ${ms(result.preconnectedMs.p50)} | ${ms(result.preconnectedMs.p90)} |`,
      `| on a kept-alive connection | ${ms(result.keptAliveMs.p50)} | ${ms(result.keptAliveMs.p90)} |`,
      '<!-- preconnect:end -->',
    ].join('\n')
    const file = new URL('../BENCHMARKS.md', import.meta.url)
    const doc = await readFile(file, 'utf8').catch(() => '# Benchmarks\n')
    await writeFile(file, spliceSection(doc, 'preconnect', section))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function stats (values: number[]): { p50: number, p90: number } {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))] ?? NaN
  return { p50: at(50), p90: at(90) }
}
