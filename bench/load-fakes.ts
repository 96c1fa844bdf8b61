/**
 * The load bench's providers: one OpenAI-compatible HTTP server (speech-to-text, a streamed
 * chat completion, text-to-speech) at fixed latencies, with keep-alive as real providers
 * answer. It runs in a process of its own (forked by bench/load.ts), so its CPU is never
 * counted as the server's: the server pays only for its own side of each request.
 *   node --import tsx bench/load-fakes.ts
 * Sends {type:'ready', port} over IPC; answers {type:'cpu'} with its CPU time; exits when the
 * driver goes away.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chatChunk, usageChunk } from '../test/fakes/openai-server.ts'

/** The fixed latencies: the bench takes them out of the turn times it reports. */
export const FAKE_LATENCY = { sttMs: 150, llmFirstMs: 200, llmPieceMs: 25, ttsMs: 100 } as const
/** The reply's audio: 24 kHz s16le as OpenAI sends `pcm`, ~15 characters a second. */
export const TTS_RATE = 24_000
const MS_PER_CHAR = 66

/**
 * A reply of one sentence that no other turn says, so the TTS cache never answers for it;
 * short (about 2 s of audio) so it ends well before the caller's next turn.
 */
export function replyText (n: number): string {
  return `Certo, ecco la pratica ${n}.`
}

const TONE = Int16Array.from({ length: TTS_RATE }, (_, i) => Math.round(6000 * Math.sin(2 * Math.PI * 300 * i / TTS_RATE)))

function speech (text: string): Buffer {
  const samples = Math.round(TTS_RATE * Math.min(4000, Math.max(300, text.length * MS_PER_CHAR)) / 1000)
  const out = Buffer.alloc(samples * 2)
  for (let i = 0; i < samples; i++) out.writeInt16LE(TONE[i % TONE.length] as number, i * 2)
  return out
}

async function body (req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of req) parts.push(chunk as Buffer)
  return Buffer.concat(parts)
}

let replies = 0
const later = (ms: number, fn: () => void): void => { setTimeout(fn, ms).unref() }

async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await body(req)
  const path = (req.url ?? '').replace(/\?.*$/, '')
  if (path.endsWith('/audio/transcriptions')) {
    later(FAKE_LATENCY.sttMs, () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ text: 'Buongiorno, come funziona il servizio?' }))
    })
    return
  }
  if (path.endsWith('/chat/completions')) {
    const words = replyText(++replies).split(/(?<= )/)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    let i = 0
    const next = (): void => {
      if (res.destroyed) return
      if (i < words.length) {
        res.write(`data: ${JSON.stringify(chatChunk({ content: words[i++] }))}\n\n`)
        later(FAKE_LATENCY.llmPieceMs, next)
        return
      }
      res.write(`data: ${JSON.stringify(chatChunk({}, 'stop'))}\n\n`)
      res.write(`data: ${JSON.stringify(usageChunk(50, 30))}\n\n`)
      res.end('data: [DONE]\n\n')
    }
    later(FAKE_LATENCY.llmFirstMs, next)
    return
  }
  if (path.endsWith('/audio/speech')) {
    const input = (JSON.parse(raw.toString('utf8') || '{}') as { input?: unknown }).input
    later(FAKE_LATENCY.ttsMs, () => {
      res.writeHead(200, { 'content-type': 'audio/pcm' })
      res.end(speech(typeof input === 'string' ? input : ''))
    })
    return
  }
  res.writeHead(404, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: { message: `no fake for ${path}` } }))
}

// Started as a forked child (FakesProcess), not when imported for replyText() and FAKE_LATENCY
// (bench/load-report.ts) by a process that has an IPC channel of its own (a tap test).
if (process.send !== undefined && process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    handle(req, res).catch(() => { res.destroy() })
  })
  server.listen(0, '127.0.0.1', () => {
    const address = server.address()
    process.send?.({ type: 'ready', port: typeof address === 'object' && address !== null ? address.port : 0 })
  })
  process.on('message', (req: { type: string, id?: number }) => {
    if (req.type === 'cpu') { const c = process.cpuUsage(); process.send?.({ type: 'cpu', id: req.id, cpuMs: (c.user + c.system) / 1000 }) }
    if (req.type === 'stop') { server.closeAllConnections(); server.close(); process.send?.({ type: 'stopped', id: req.id }); process.disconnect?.() }
  })
  process.on('SIGINT', () => {})
  process.on('disconnect', () => { process.exit(0) })
}
