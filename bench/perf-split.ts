/**
 * A turn's CPU by module, from `bench/turn-cpu.ts --perf=DIR` recordings (issue 18).
 *
 *   node --import tsx bench/perf-split.ts --turns=32 DIR/talk-1.data,DIR/quiet-1.data [...more pairs]
 *   node --import tsx bench/perf-split.ts --turns=32 --files DIR/talk-1.data,DIR/quiet-1.data
 *   node --import tsx bench/perf-split.ts --turns=1005 --quiet-scale=4 DIR/500-talk.data,DIR/500-quiet.data
 *
 * `--quiet-scale`: the talk window's length over the quiet one's, when they differ (the load
 * bench's `--perf`: 20 s of talk, 5 s quiet), so that the quiet samples stand for as long a time.
 * Each sample of the server's main thread (the event loop) goes to the innermost frame of our
 * code in its call graph (lib/ or bench/), so Node's `dgram` and the kernel's send count under the
 * pacer that sent; a sample with no frame of ours goes by what is under it (undici: the provider
 * clients; a UDP receive; a timer; the GC; libuv's polling). Samples of other threads are V8's
 * compiler or GC helpers. A talk round's samples less its quiet round's, over its turns, are a
 * turn's (997 Hz: a sample is about a millisecond). perf can name a sample after JIT code that
 * was freed and replaced at the same address (lib/guard/store.ts over the scheduler's send, for
 * one): per group the figures hold to about a millisecond, per file less.
 */
import { execFileSync } from 'node:child_process'

/** Groups by the path of our innermost frame, first match wins. */
const GROUPS: ReadonlyArray<readonly [string, RegExp]> = [
  // guard/store.ts: perf's name for a reused JIT address under the scheduler's Socket.send.
  ['sending and pacing (scheduler, call-pacer, send-ring, quiet-idle; dgram send under them)', /media\/stream\/(scheduler|call-pacer|send-ring|quiet-idle|pacer)|guard\/store/],
  ['receiving (endpoint, inbound frames; dgram receive)', /media\/stream\/(endpoint|inbound|frame|index)/],
  ['echo guard (lib/media/echo*.ts)', /media\/echo/],
  ['classic VAD (lib/media/vad)', /media\/vad\//],
  ['listen, recogniser feed, barge-in (lib/call/stream, turn-media-stream.ts)', /call\/stream\/|turn-media-stream/],
  ['conversation and sentences (lib/call/conversation, lib/agent)', /call\/conversation|lib\/agent\//],
  ['speech cache (tts-cache, tts-inflight)', /speech\/tts-cache|speech\/tts-inflight/],
  ['resampling', /resample/],
  ['provider clients, our code (lib/providers, lib/llm, lib/speech)', /lib\/(providers|llm|speech)\//],
  ['typed errors made (lib/errors.ts)', /lib\/errors/],
  ['the window-end full GC (bench/load-server.ts memory request)', /bench\/load-server/],
  ['metrics, records, logging (lib/ops, lib/records)', /lib\/(ops|records|log)/],
]
const OURS = /file:\/\/\S+?\/((?:lib|bench)\/[^:]+):/

function groupOf (file: string): string {
  for (const [name, re] of GROUPS) if (re.test(file)) return name
  return `other code of ours (${file})`
}

/** One sample's group, from its header line and its frames (innermost first). */
export function classify (mainThread: boolean, frames: readonly string[]): string {
  const all = frames.join('\n')
  if (!mainThread) {
    if (/Compil|Turbofan|compiler/.test(all)) return 'other threads: V8 compiler'
    if (/Heap|Mark|Scaveng/.test(all)) return 'other threads: GC helpers'
    return 'other threads: other'
  }
  for (const f of frames) {
    const m = OURS.exec(f)
    if (m?.[1] !== undefined) return groupOf(m[1])
  }
  if (all.includes('undici')) return 'provider clients, undici and the sockets under it'
  if (all.includes('UDPWrap::OnRecv') || all.includes('uv__udp_io')) return 'receiving (endpoint, inbound frames; dgram receive)'
  if (all.includes('uv__run_timers') || all.includes('node:internal/timers')) return 'timers with no frame of ours'
  if (/Heap|Scaveng|MarkCompact/.test(all)) return 'GC on the main thread'
  if (/node:internal\/streams|stream_base|node:net/.test(all)) return 'Node streams and sockets with no frame of ours'
  if (all.includes('epoll') || all.includes('uv__io_poll')) return 'libuv polling and the kernel under it'
  return 'other native'
}

/** Sample counts by group (or by file with `byFile`) of one recording. */
export function splitPerfScript (text: string, byFile = false): Map<string, number> {
  const counts = new Map<string, number>()
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l.trim() !== '')
    const head = lines[0]?.trim().split(/\s+/)
    if (head === undefined || lines.length < 2) continue
    // `-F pid,tid,...` prints "pid/tid" as one field.
    const [pid, tid] = head[0]?.includes('/') === true ? head[0].split('/') : [head[0], head[1]]
    const frames = lines.slice(1).map((l) => l.trim())
    let key = classify(pid === tid, frames)
    if (byFile && pid === tid) {
      const m = frames.map((f) => OURS.exec(f)?.[1]).find((f) => f !== undefined)
      if (m !== undefined) key = m
    }
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return counts
}

function perfScript (file: string): string {
  return execFileSync('perf', ['script', '-i', file, '-F', 'pid,tid,ip,sym'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] })
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const turns = Number(process.argv.find((a) => a.startsWith('--turns='))?.slice(8) ?? '32')
  const byFile = process.argv.includes('--files')
  const quietScale = Number(process.argv.find((a) => a.startsWith('--quiet-scale='))?.slice('--quiet-scale='.length) ?? '1')
  const pairs = process.argv.slice(2).filter((a) => !a.startsWith('--')).map((p) => p.split(','))
  const msPerSample = 1000 / 997
  const perTurn = new Map<string, number>()
  for (const [talk, quiet] of pairs) {
    if (talk === undefined || quiet === undefined) throw new Error('pairs are TALK.data,QUIET.data')
    const a = splitPerfScript(perfScript(talk), byFile)
    const b = splitPerfScript(perfScript(quiet), byFile)
    for (const k of new Set([...a.keys(), ...b.keys()])) perTurn.set(k, (perTurn.get(k) ?? 0) + ((a.get(k) ?? 0) - (b.get(k) ?? 0) * quietScale) * msPerSample / turns / pairs.length)
  }
  let total = 0
  for (const [k, v] of [...perTurn].sort((x, y) => y[1] - x[1])) {
    total += v
    if (Math.abs(v) >= 0.1) console.log(`${v.toFixed(2).padStart(6)}  ${k}`)
  }
  console.log(`${total.toFixed(2).padStart(6)}  total, ms per turn (mean of ${pairs.length} pair${pairs.length === 1 ? '' : 's'})`)
}
