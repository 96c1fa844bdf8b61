import type { RealtimeClientEvent, RealtimeServerEvent } from 'openai/resources/realtime/realtime'
import { VendorSocket, base64FromPcm, pcmFromBase64 } from './socket.ts'
import type { RealtimeEvent, RealtimeOpenOptions, RealtimeSession, RealtimeVendor } from './types.ts'

/**
 * OpenAI Realtime over its WebSocket (`/v1/realtime?model=`), GA protocol: message shapes are
 * the SDK's own types (openai/resources/realtime), so a renamed field fails the type check.
 *
 * Audio goes both ways as 24 kHz PCM16 (`audio/pcm`, the only PCM rate the API takes): one
 * resampling step each way on our side. We do not ask for G.711 μ-law: users report PCM coming
 * back despite it, and asking for PCM makes the rate ours to know rather than guess.
 * Turns are the server's: `server_vad` with `interrupt_response`, so the server cancels its own
 * reply when the caller speaks and we only truncate the item at what was played.
 */

export interface OpenAiRealtimeSettings {
  readonly model: string
  readonly apiKey: string
  /** `wss://api.openai.com/v1` unless a compatible or test server is named. */
  readonly baseUrl?: string | undefined
  readonly voice?: string | undefined
  /** Model transcribing the caller (input transcription events). */
  readonly transcriptionModel?: string | undefined
  /** The server VAD's end-of-turn silence. */
  readonly silenceMs?: number | undefined
}

const RATE = 24_000

export class OpenAiRealtime implements RealtimeVendor {
  readonly name = 'openai'
  readonly model: string
  readonly #s: OpenAiRealtimeSettings

  constructor (settings: OpenAiRealtimeSettings) {
    this.#s = settings
    this.model = settings.model
  }

  async open (options: RealtimeOpenOptions): Promise<RealtimeSession> {
    const s = this.#s
    const base = (s.baseUrl ?? 'wss://api.openai.com/v1').replace(/^http/, 'ws').replace(/\/+$/, '')
    let socket: VendorSocket | undefined
    const items = new Map<string, boolean>()
    /** Tool results sent while a response runs: the next response starts when it is done. */
    let pendingResponse = false
    let responding = false
    const push = (e: RealtimeEvent): void => { socket?.queue.push(e) }
    socket = new VendorSocket({
      url: `${base}/realtime?model=${encodeURIComponent(s.model)}`,
      headers: { Authorization: `Bearer ${s.apiKey}` },
      vendor: this.name,
      openTimeoutMs: options.openTimeoutMs,
      signal: options.signal,
      log: options.log,
    }, (message) => {
      const event = message as RealtimeServerEvent | { type: 'response.audio.delta' | 'response.audio_transcript.delta', item_id: string, delta: string }
      switch (event.type) {
        case 'session.created': {
          const update: RealtimeClientEvent = {
            type: 'session.update',
            session: {
              type: 'realtime',
              instructions: options.instructions,
              output_modalities: ['audio'],
              audio: {
                input: {
                  format: { type: 'audio/pcm', rate: RATE },
                  transcription: { model: s.transcriptionModel ?? 'gpt-4o-mini-transcribe', language: options.language.split('-')[0]!.toLowerCase() },
                  turn_detection: { type: 'server_vad', silence_duration_ms: s.silenceMs ?? 500, create_response: true, interrupt_response: true },
                },
                output: { format: { type: 'audio/pcm', rate: RATE }, ...(s.voice ?? options.voice ? { voice: s.voice ?? options.voice } : {}) },
              },
              tools: options.tools.map((t) => ({ type: 'function' as const, name: t.name, description: t.description, parameters: t.parameters })),
              tool_choice: 'auto',
            },
          }
          socket!.send(update)
          return
        }
        case 'session.updated':
          socket!.markReady()
          return
        case 'input_audio_buffer.speech_started':
          push({ type: 'speech-started' })
          return
        case 'input_audio_buffer.speech_stopped':
          push({ type: 'speech-stopped' })
          return
        case 'conversation.item.input_audio_transcription.completed':
          push({ type: 'caller-text', text: String(event.transcript ?? ''), final: true })
          return
        // The beta protocol's names for the same two events, still sent by older snapshots.
        case 'response.output_audio.delta':
        case 'response.audio.delta':
          items.set(event.item_id, true)
          push({ type: 'audio', pcm: pcmFromBase64(event.delta, this.name), item: String(event.item_id) })
          return
        case 'response.output_audio_transcript.delta':
        case 'response.audio_transcript.delta':
          push({ type: 'agent-text', text: String(event.delta ?? ''), item: String(event.item_id) })
          return
        case 'response.function_call_arguments.done':
          push({ type: 'tool-call', id: String(event.call_id), name: String(event.name), args: String(event.arguments ?? '') })
          return
        case 'response.created':
          responding = true
          return
        case 'response.done': {
          responding = false
          const usage = event.response?.usage
          push({ type: 'response-done', usage: usage === undefined ? undefined : { inputTokens: usage.input_tokens ?? 0, outputTokens: usage.output_tokens ?? 0 } })
          if (pendingResponse) {
            pendingResponse = false
            socket!.send({ type: 'response.create' } satisfies RealtimeClientEvent)
          }
          return
        }
        case 'error':
          // A refused request (a truncate past the end, a cancel with nothing running): the
          // session itself goes on; a fatal problem closes the socket, which fails the stream.
          push({ type: 'vendor-error', code: String(event.error?.code ?? event.error?.type ?? 'error'), message: String(event.error?.message ?? '') })
          return
        default:
          if (typeof (event as { type?: unknown }).type !== 'string') throw VendorSocket.garbage(this.name, 'an event without a type')
      }
    })
    await socket.ready()
    const ws = socket
    return {
      inputRate: RATE,
      outputRate: RATE,
      events: ws.queue,
      sendAudio: (pcm) => { ws.send({ type: 'input_audio_buffer.append', audio: base64FromPcm(pcm) } satisfies RealtimeClientEvent) },
      sayContext: (text) => {
        ws.send({ type: 'conversation.item.create', item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text }] } } satisfies RealtimeClientEvent)
      },
      sendToolResult: (id, _name, output, respond) => {
        ws.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: id, output } } satisfies RealtimeClientEvent)
        // The function call came inside a response that is still running (its response.done
        // follows): asking for the next one now would be refused as "already has an active response".
        if (!respond) return
        if (responding) pendingResponse = true
        else ws.send({ type: 'response.create' } satisfies RealtimeClientEvent)
      },
      truncate: (item, playedMs) => {
        if (!items.has(item)) return
        ws.send({ type: 'conversation.item.truncate', item_id: item, content_index: 0, audio_end_ms: Math.max(0, Math.round(playedMs)) } satisfies RealtimeClientEvent)
      },
      close: () => { ws.close() },
    }
  }
}
