import type { WebSocket } from 'ws'
import { EnergyVad, FakeRealtimeBase, pcmOf, pieces, replyAudioMs, tick, voiceChunks, type FakeRealtimeOptions, type FakeReply } from './realtime-core.ts'

export const GEMINI_PATH = '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent'

/**
 * Gemini Live on loopback: the BidiGenerateContent WebSocket with the key in `?key=`. The first
 * client message must be `setup` (answered `setupComplete`; anything else first closes the
 * socket, as the service does); audio arrives as `realtimeInput.audio` (16 kHz PCM16), runs
 * through the server's activity detection, and is answered with `serverContent` messages:
 * `inputTranscription`, `modelTurn.parts[].inlineData` (audio/pcm;rate=24000) with
 * `outputTranscription`, then `toolCall` (waiting for `toolResponse`) or `turnComplete` with
 * `usageMetadata`. Caller speech during a reply still being generated yields
 * `interrupted: true`. Every server message goes out as a binary frame, as the service sends them.
 */
export class FakeGeminiLive extends FakeRealtimeBase {
  readonly upgrades: Array<{ key: string | null, path: string }> = []
  #calls = 0

  static async start (options: FakeRealtimeOptions = {}): Promise<FakeGeminiLive> {
    const fake = new FakeGeminiLive(await FakeRealtimeBase.listen(options))
    fake.wss.on('connection', (ws, req) => {
      // @google/genai 2.x joins its base URL (with a trailing slash) and the path into `//ws/...`
      // (which `new URL` would read as a host); the service accepts that, so the fake does too.
      const [rawPath = '/', query = ''] = (req.url ?? '/').split('?', 2)
      const path = rawPath.replace(/\/{2,}/g, '/')
      fake.upgrades.push({ key: new URLSearchParams(query).get('key'), path })
      if (path !== GEMINI_PATH) { ws.close(1008, 'not found'); return }
      fake.#serve(ws, options)
    })
    return fake
  }

  get baseUrl (): string { return `ws://127.0.0.1:${this.port}` }

  #serve (ws: WebSocket, options: FakeRealtimeOptions): void {
    const send = (m: Record<string, unknown>): void => { if (ws.readyState === ws.OPEN) ws.send(Buffer.from(JSON.stringify(m)), { binary: true }) }
    const vad = new EnergyVad(16_000)
    let setup = false
    let generating: { cancelled: boolean } | undefined

    const respond = async (): Promise<void> => {
      const step = this.steps.shift()
      if (step === undefined || step === 'stall') return
      if (step === 'close') { ws.close(1011, 'Internal error encountered.'); return }
      if (step === 'garbage') { ws.send('<html>502 Bad Gateway</html>'); return }
      const state = { cancelled: false }
      generating = state
      await this.#stream(send, step, state)
      if (generating === state) generating = undefined
    }

    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>
      this.received.push(m)
      if (!setup) {
        if (m.setup === undefined) { ws.close(1007, 'setup must be the first message'); return }
        setup = true
        if (options.connect !== 'silent') send({ setupComplete: {} })
        return
      }
      const audio = (m.realtimeInput as { audio?: { data: string, mimeType: string } } | undefined)?.audio
      if (audio !== undefined) {
        const pcm = pcmOf(audio.data)
        this.audioMs += pcm.length / 16
        for (const edge of vad.push(pcm)) {
          if (edge === 'start') {
            if (generating !== undefined) {
              generating.cancelled = true
              generating = undefined
              send({ serverContent: { interrupted: true } })
            }
          } else {
            send({ serverContent: { inputTranscription: { text: this.callerTexts.shift() ?? '' } } })
            void respond()
          }
        }
        return
      }
      if (m.toolResponse !== undefined) void respond()
    })
  }

  async #stream (send: (m: Record<string, unknown>) => void, reply: FakeReply, state: { cancelled: boolean }): Promise<void> {
    const chunks = voiceChunks(replyAudioMs(reply))
    const text = pieces(reply.text, chunks.length)
    for (let i = 0; i < chunks.length && !state.cancelled; i++) {
      send({ serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: chunks[i] } }] } } })
      send({ serverContent: { outputTranscription: { text: text[i] } } })
      await tick()
    }
    if (state.cancelled) return
    if (reply.tools !== undefined && reply.tools.length > 0) {
      send({ toolCall: { functionCalls: reply.tools.map((t) => ({ id: `function-call-${++this.#calls}`, name: t.name, args: typeof t.args === 'string' ? JSON.parse(t.args) : t.args })) } })
      return
    }
    send({ serverContent: { generationComplete: true } })
    send({ serverContent: { turnComplete: true }, usageMetadata: { promptTokenCount: 300, responseTokenCount: Math.round(replyAudioMs(reply) / 40), totalTokenCount: 300 + Math.round(replyAudioMs(reply) / 40) } })
  }
}
