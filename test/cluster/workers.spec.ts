import t from 'tap'
import { createServer } from 'node:net'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { speechLike } from '../media-stream/signals.ts'
import { runCli } from '../helpers/cli.ts'
import { freePort, startCluster, until } from './serve-workers.ts'

// Each test starts a service of three processes (each loading the whole app) and places calls in
// real time: under a loaded npm test (ten runners on two cores) the spec took up to 180 s, the
// runner's budget for one spec (test/helpers/specs.ts); alone it takes ~45 s.
t.setTimeout(360_000)

const message = (): { atMs: number, wav: Buffer } => ({ atMs: 2500, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 1.2, -18) }) })

async function getText (url: string): Promise<string> {
  const res = await fetch(url)
  return await res.text()
}

t.test('server.workers: 2 spreads calls over two processes; one store, merged metrics; a dead worker is replaced', async (t) => {
  const cl = await startCluster(['server: { port: 0, workers: 2 }'], await freePort())
  t.teardown(() => { if (cl.child.exitCode === null) cl.child.kill('SIGKILL') })
  const port = await cl.ready
  t.ok(port, 'every worker ready')
  const fs = new FakeFreeSwitch()

  const results = await Promise.all([0, 1, 2, 3].map(async (i) => await fs.placeCall({
    port: port!, destination: '0212345678', callerNumber: `+39333123456${i}`, caller: { audio: [message()] },
  }).ended))
  t.ok(results.every((r) => r.answered), 'all four calls answered')
  const recorded = await until('four messages logged', () => {
    const lines = cl.logs.filter((l) => l.msg === 'message recorded')
    return lines.length >= 4 ? lines : undefined
  })
  const takenBy = new Set(recorded.map((l) => l.worker))
  t.same([...takenBy].sort(), ['1', '2'], 'both workers took calls (connections are dealt round robin)')

  const metrics = await until('the merged metrics count four calls', async () => {
    const text = await getText(`${cl.opsUrl}/metrics`)
    return text.includes('phone_agent_calls_total{outcome="message_taken"} 4') ? text : undefined
  })
  for (const worker of ['primary', '1', '2']) t.match(metrics, `nodejs_eventloop_lag_p99_seconds{worker="${worker}"}`, `event-loop delay of process ${worker}`)
  t.match(JSON.parse(await getText(`${cl.opsUrl}/healthz`)), { ok: true, workers: 2 })

  // A worker killed mid-call: its call is lost (FreeSWITCH hangs up when the socket drops), the
  // record is marked interrupted rather than left open, and a new worker takes the next call.
  const doomed = fs.placeCall({ port: port!, destination: '0212345678', callerNumber: '+393339999999' })
  await until('the primary knows the call', async () => {
    const health = JSON.parse(await getText(`${cl.opsUrl}/healthz`)) as { activeCalls: number, liveCalls: number }
    return health.liveCalls === 1 ? true : undefined
  })
  // The log comes through the worker's stdout, apart from (and maybe after) its IPC report.
  const pid = await until('a log line of the call', () => cl.logs.find((l) => l.call === doomed.uuid && typeof l.pid === 'number')?.pid as number | undefined)
  t.ok(pid, 'the call logged from a worker, with its pid')
  process.kill(pid!, 'SIGKILL')
  const lost = await doomed.ended
  t.ok(lost.hangupCause, `the call ended with its worker (${String(lost.hangupCause)})`)
  // Each process writes its own lines to the shared stdout: waited for, not assumed in order.
  await until('a replacement worker', () => cl.logs.some((l) => l.msg === 'outbound event socket listening' && l.worker === '3') ? true : undefined)
  const died = await until('the primary on the death', () => cl.logs.find((l) => l.msg === 'worker process died; its calls were lost; starting a new one'))
  t.equal(died.lostCalls, 1, 'the primary says a worker died with one call')
  const marked = await until('the lost record marked', () => cl.logs.find((l) => l.msg === 'calls of a dead worker marked interrupted'))
  t.equal(marked.marked, 1, 'its record was marked interrupted')
  const after = await Promise.all([0, 1].map(async () => await fs.placeCall({
    port: port!, destination: '0212345678', callerNumber: '+393331230000', caller: { audio: [message()] },
  }).ended))
  t.ok(after.every((r) => r.answered), 'calls after the crash are answered')

  cl.child.kill('SIGTERM')
  t.equal(await cl.exited, 0, 'SIGTERM drains every worker; exit code 0')
  const list = await runCli(['calls', '--json', '--config', cl.config])
  t.equal(list.code, 0, list.err)
  const calls = JSON.parse(list.out) as Array<{ uuid: string, outcome: string }>
  t.equal(calls.filter((c) => c.outcome === 'message_taken').length, 6, 'six messages recorded in the one store')
  t.match(calls.find((c) => c.uuid === doomed.uuid), { outcome: 'interrupted' })
})

t.test('the concurrency cap holds for the service, not per worker', async (t) => {
  const cl = await startCluster([
    'server: { port: 0, workers: 2 }',
    'guard: { capacity: { maxConcurrent: 1, whenFull: user-busy } }',
  ], await freePort())
  t.teardown(() => { if (cl.child.exitCode === null) cl.child.kill('SIGKILL') })
  const port = await cl.ready
  t.ok(port)
  const fs = new FakeFreeSwitch()
  // Two calls at once: round robin puts them on different workers, which share one counter.
  const results = await Promise.all(['+393331111111', '+393332222222'].map(async (callerNumber) => await fs.placeCall({
    port: port!, destination: '0212345678', callerNumber, caller: { audio: [message()] },
  }).ended))
  t.equal(results.filter((r) => r.answered).length, 1, 'one call answered')
  t.match(results.find((r) => !r.answered), { hangupCause: 'USER_BUSY' }, 'the other refused as busy')
  cl.child.kill('SIGTERM')
  t.equal(await cl.exited, 0)
})

t.test('a worker that cannot start stops the service with exit code 1', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const busyPort = (taken.address() as { port: number }).port
  const cl = await startCluster([`server: { port: ${busyPort}, workers: 2 }`], await freePort())
  t.teardown(() => { if (cl.child.exitCode === null) cl.child.kill('SIGKILL') })
  t.equal(await cl.ready, undefined, 'never ready')
  t.equal(await cl.exited, 1)
  // Its stdout may still be draining after the exit.
  t.ok(await until('the reason logged', () => cl.logs.some((l) => l.msg === 'a worker process failed to start; stopping') ? true : undefined, 10_000), 'the primary says why it stopped')
})

