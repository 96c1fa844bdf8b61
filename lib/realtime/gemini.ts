import { VendorSocket, base64FromPcm, pcmFromBase64 } from './socket.ts'
import type { RealtimeEvent, RealtimeOpenOptions, RealtimeSession, RealtimeVendor } from './types.ts'

/**
 * Gemini Live over its WebSocket (`BidiGenerateContent`, v1beta). The first message is `setup`;
 * the server answers `setupComplete`. The caller's audio goes up as `realtimeInput.audio`,
 * 16 kHz PCM16; the model's comes down as `serverContent.modelTurn.parts[].inlineData`, 24 kHz
 * PCM16. Turns are the server's (automatic activity detection): when the caller speaks over a
 * reply the server drops it and says `serverContent.interrupted`; there is nothing to truncate.
 * The server sends its JSON in binary frames (socket.ts reads either).
 */

export interface GeminiLiveSettings {
  /** Without the `models/` prefix, e.g. `gemini-live-2.5-flash-preview`. */
  readonly model: string
  readonly apiKey: string
  /** `wss://generativelanguage.googleapis.com` unless a test server is named. */
  readonly baseUrl?: string | undefined
  readonly voice?: string | undefined
}

const PATH = '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent'
const IN_RATE = 16_000
const OUT_RATE = 24_000

interface ServerMessage {
  setupComplete?: unknown
  serverContent?: {
    modelTurn?: { parts?: Array<{ inlineData?: { mimeType?: string, data?: string }, text?: string }> }
    inputTranscription?: { text?: string }
    outputTranscription?: { text?: string }
    interrupted?: boolean
    turnComplete?: boolean
    generationComplete?: boolean
  }
  toolCall?: { functionCalls?: Array<{ id?: string, name?: string, args?: unknown }> }
  toolCallCancellation?: { ids?: string[] }
  usageMetadata?: { promptTokenCount?: number, responseTokenCount?: number }
  goAway?: { timeLeft?: string }
}

export class GeminiLive implements RealtimeVendor {
  readonly name = 'gemini'
  readonly model: string
  readonly #s: GeminiLiveSettings

  constructor (settings: GeminiLiveSettings) {
    this.#s = settings
    this.model = settings.model
  }

  async open (options: RealtimeOpenOptions): Promise<RealtimeSession> {
    const s = this.#s
    const base = (s.baseUrl ?? 'wss://generativelanguage.googleapis.com').replace(/^http/, 'ws').replace(/\/+$/, '')
    // A reply has no id on this protocol: we number them, a new one after each turnComplete/interrupted.
    let turn = 1
    let pendingUsage: { inputTokens: number, outputTokens: number } | undefined
    let socket: VendorSocket | undefined
    const push = (e: RealtimeEvent): void => { socket?.queue.push(e) }
    socket = new VendorSocket({
      url: `${base}${PATH}?key=${encodeURIComponent(s.apiKey)}`,
      vendor: this.name,
      openTimeoutMs: options.openTimeoutMs,
      signal: options.signal,
      log: options.log,
    }, (raw) => {
      const m = raw as ServerMessage
      if (m.usageMetadata !== undefined) {
        pendingUsage = { inputTokens: m.usageMetadata.promptTokenCount ?? 0, outputTokens: m.usageMetadata.responseTokenCount ?? 0 }
      }
      if (m.setupComplete !== undefined) { socket!.markReady(); return }
      if (m.goAway !== undefined) { options.log.info({ timeLeft: m.goAway.timeLeft }, 'gemini live: the server will close the session soon'); return }
      if (m.toolCall !== undefined) {
        for (const call of m.toolCall.functionCalls ?? []) {
          if (typeof call.id !== 'string' || typeof call.name !== 'string') throw VendorSocket.garbage(this.name, 'a function call without id or name')
          push({ type: 'tool-call', id: call.id, name: call.name, args: JSON.stringify(call.args ?? {}) })
        }
        // What the model says after the tool response is a new stretch of speech.
        turn++
        return
      }
      const c = m.serverContent
      if (c === undefined) return
      const item = `turn-${turn}`
      if (c.inputTranscription?.text !== undefined) push({ type: 'caller-text', text: c.inputTranscription.text, final: false })
      for (const part of c.modelTurn?.parts ?? []) {
        if (part.inlineData !== undefined) {
          if (part.inlineData.mimeType !== undefined && !part.inlineData.mimeType.startsWith('audio/pcm')) continue
          push({ type: 'audio', pcm: pcmFromBase64(part.inlineData.data, this.name), item })
        }
      }
      if (c.outputTranscription?.text !== undefined) push({ type: 'agent-text', text: c.outputTranscription.text, item })
      if (c.interrupted === true) {
        turn++
        push({ type: 'interrupted' })
      }
      if (c.turnComplete === true) {
        turn++
        push({ type: 'response-done', usage: pendingUsage })
        pendingUsage = undefined
      }
    })
    await new Promise<void>((resolve, reject) => {
      // The setup message is the first thing the server must get, as soon as the socket opens.
      void socket.ready().then(resolve, reject)
      const ws = socket
      const sendSetup = (): void => {
        ws.send({
          setup: {
            model: `models/${s.model}`,
            generationConfig: {
              responseModalities: ['AUDIO'],
              speechConfig: {
                languageCode: options.language,
                ...(s.voice ?? options.voice ? { voiceConfig: { prebuiltVoiceConfig: { voiceName: s.voice ?? options.voice } } } : {}),
              },
            },
            systemInstruction: { parts: [{ text: options.instructions }] },
            tools: options.tools.length === 0 ? [] : [{ functionDeclarations: options.tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters })) }],
            inputAudioTranscription: {},
            outputAudioTranscription: {},
          },
        })
      }
      ws.onOpen(sendSetup)
    })
    const ws = socket
    return {
      inputRate: IN_RATE,
      outputRate: OUT_RATE,
      events: ws.queue,
      sendAudio: (pcm) => { ws.send({ realtimeInput: { audio: { data: base64FromPcm(pcm), mimeType: `audio/pcm;rate=${IN_RATE}` } } }) },
      // Context only (turnComplete false): the model must not answer its own greeting.
      sayContext: (text) => { ws.send({ clientContent: { turns: [{ role: 'model', parts: [{ text }] }], turnComplete: false } }) },
      // The server goes on by itself after a tool response; `respond` needs no message here.
      sendToolResult: (id, name, output) => {
        let response: unknown
        try { response = JSON.parse(output) } catch { response = { result: output } }
        ws.send({ toolResponse: { functionResponses: [{ id, name, response }] } })
      },
      truncate: () => {},
      close: () => { ws.close() },
    }
  }
}
