/**
 * The provider fakes of bench/real-switch-turn-taking.ts, in a process of their own: the OpenAI
 * wire protocol at the turn-taking bench's fixed latencies (STT 100 ms, LLM first token 150 ms
 * then chunks 2 ms apart, TTS 100 ms plus the turn's offset; a 440 Hz tone of 2 ms per character
 * at 24 kHz, as bench/turn-taking-child.ts). What they answer is set by `POST /control` from the
 * caller process, not scripted per request: on real speech the recogniser is also asked at pauses
 * inside a sentence (preemptive replies), and each such request gets the turn's words.
 *   node --import tsx bench/real-switch-fakes.ts <port> <log.jsonl>
 * Listens on 127.0.0.1 only. Logs every request with its wall-clock time (ms, fractional).
 */
import { appendFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { performance } from 'node:perf_hooks'
import { FAKE } from './turn-taking-child.ts'

export interface FakesState { stt: string, reply: string[], endCall: boolean, ttsOffsetMs: number }
export interface FakesLogLine { readonly t: number, readonly kind: string, readonly wait?: number, readonly text?: string }

const chunk = (delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> =>
  ({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1700000000, model: 'fake-model', choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] })
const usage = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1700000000, model: 'fake-model', choices: [], usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 } }

function tone (text: string): Buffer {
  const samples = new Int16Array(Math.round(24_000 * Math.max(40, text.length * 2) / 1000))
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / 24_000))
  return Buffer.from(samples.buffer)
}

function main (port: number, logFile: string): void {
  const state: FakesState = { stt: 'Vorrei un appuntamento.', reply: ['Certo.'], endCall: false, ttsOffsetMs: 0 }
  const counts = { stt: 0, chat: 0, tts: 0 }
  const now = (): number => performance.timeOrigin + performance.now()
  const log = (o: Record<string, unknown>): void => { appendFileSync(logFile, `${JSON.stringify({ t: now(), ...o })}\n`) }
  const server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (b: Buffer) => parts.push(b))
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]
      const body = Buffer.concat(parts)
      if (path === '/control') {
        Object.assign(state, JSON.parse(body.toString('utf8')) as Partial<FakesState>)
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts))
      } else if (path === '/v1/audio/transcriptions') {
        counts.stt++
        const text = state.stt
        log({ kind: 'stt', text })
        setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text })) }, FAKE.sttMs)
      } else if (path === '/v1/chat/completions') {
        counts.chat++
        log({ kind: 'chat' })
        const chunks = state.reply.map((p) => chunk({ content: p }))
        if (state.endCall) chunks.push(chunk({ tool_calls: [{ index: 0, id: 'call_0', type: 'function', function: { name: 'end_call', arguments: '{"reason":"resolved"}' } }] }))
        chunks.push(chunk({}, state.endCall ? 'tool_calls' : 'stop'), usage)
        const lines = [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n']
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        const next = (): void => {
          if (res.destroyed) return
          const line = lines.shift()
          if (line === undefined) { res.end(); return }
          res.write(line)
          setTimeout(next, 2)
        }
        setTimeout(next, FAKE.llmFirstTokenMs)
      } else if (path === '/v1/audio/speech') {
        counts.tts++
        const text = String((JSON.parse(body.toString('utf8')) as { input?: unknown }).input ?? '')
        const wait = FAKE.ttsMs + state.ttsOffsetMs
        log({ kind: 'tts', wait })
        setTimeout(() => {
          const audio = tone(text)
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': audio.length }).end(audio)
          log({ kind: 'tts-done' })
        }, wait)
      } else {
        res.writeHead(404).end()
      }
    })
  })
  // A server that carries calls keeps its provider connections (the pool holds them 30 s).
  server.keepAliveTimeout = 120_000
  server.listen(port, '127.0.0.1', () => { process.send?.({ type: 'ready' }) })
  process.on('disconnect', () => { server.closeAllConnections(); server.close(() => process.exit(0)) })
}

if (import.meta.url === `file://${process.argv[1]}`) main(Number(process.argv[2]), String(process.argv[3]))
