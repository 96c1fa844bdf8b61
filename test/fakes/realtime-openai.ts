import type { WebSocket } from 'ws'
import { EnergyVad, FakeRealtimeBase, pcmOf, pieces, replyAudioMs, tick, voiceChunks, type FakeRealtimeOptions, type FakeReply } from './realtime-core.ts'

/**
 * OpenAI Realtime (GA) on loopback: `GET /v1/realtime?model=` upgraded to a WebSocket; the
 * server speaks first (`session.created`), acknowledges `session.update` with
 * `session.updated`, runs server VAD over `input_audio_buffer.append` audio (24 kHz PCM16)
 * and answers with the GA event names (`response.output_audio.delta`,
 * `response.output_audio_transcript.delta`, `response.function_call_arguments.done`,
 * `response.done` with usage). Like the real service it sends audio faster than real time,
 * cancels a reply in progress when the caller speaks (`interrupt_response`), and answers
 * `conversation.item.truncate` with `conversation.item.truncated`. Text frames only.
 */
export class FakeOpenAiRealtime extends FakeRealtimeBase {
  /** The `Authorization` header and model of each upgrade. */
  readonly upgrades: Array<{ authorization: string | undefined, model: string | null, url: string }> = []
  #ids = 0

  static async start (options: FakeRealtimeOptions = {}): Promise<FakeOpenAiRealtime> {
    const fake = new FakeOpenAiRealtime(await FakeRealtimeBase.listen(options))
    fake.wss.on('connection', (ws, req) => {
      const url = new URL(req.url ?? '/', 'http://x')
      fake.upgrades.push({ authorization: req.headers.authorization, model: url.searchParams.get('model'), url: url.pathname })
      fake.#serve(ws, options)
    })
    return fake
  }

  get baseUrl (): string { return `ws://127.0.0.1:${this.port}/v1` }

  #id (prefix: string): string { return `${prefix}_${++this.#ids}` }

  #serve (ws: WebSocket, options: FakeRealtimeOptions): void {
    const send = (event: Record<string, unknown>): void => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event_id: this.#id('event'), ...event })) }
    const vad = new EnergyVad(24_000)
    let audioMs = 0
    let speechItem = ''
    let responding: { cancelled: boolean } | undefined
    send({ type: 'session.created', session: { type: 'realtime', id: this.#id('sess'), model: 'gpt-realtime' } })

    const respond = async (): Promise<void> => {
      const step = this.steps.shift()
      if (step === undefined || step === 'stall') return
      if (step === 'close') { ws.close(1011, 'server error'); return }
      if (step === 'garbage') { ws.send('<html>502 Bad Gateway</html>'); return }
      await this.#stream(send, step, (r) => { responding = r })
      responding = undefined
    }

    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>
      this.received.push(m)
      switch (m.type) {
        case 'session.update':
          if (options.connect !== 'silent') send({ type: 'session.updated', session: m.session })
          return
        case 'input_audio_buffer.append': {
          const pcm = pcmOf(String(m.audio))
          this.audioMs += pcm.length / 24
          audioMs += pcm.length / 24
          for (const edge of vad.push(pcm)) {
            if (edge === 'start') {
              speechItem = this.#id('item')
              send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.round(audioMs), item_id: speechItem })
              // interrupt_response: the reply still being generated is cancelled at once.
              if (responding !== undefined) responding.cancelled = true
            } else {
              send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round(audioMs), item_id: speechItem })
              send({ type: 'input_audio_buffer.committed', item_id: speechItem, previous_item_id: null })
              const transcript = this.callerTexts.shift() ?? ''
              send({ type: 'conversation.item.input_audio_transcription.completed', item_id: speechItem, content_index: 0, transcript, usage: { type: 'duration', seconds: 1 } })
              void respond()
            }
          }
          return
        }
        case 'conversation.item.truncate':
          send({ type: 'conversation.item.truncated', item_id: m.item_id, content_index: m.content_index, audio_end_ms: m.audio_end_ms })
          return
        case 'conversation.item.create':
          send({ type: 'conversation.item.added', previous_item_id: null, item: { id: this.#id('item'), ...(m.item as object) } })
          return
        case 'response.create':
          void respond()
      }
    })
  }

  async #stream (send: (e: Record<string, unknown>) => void, reply: FakeReply, running: (r: { cancelled: boolean }) => void): Promise<void> {
    const state = { cancelled: false }
    running(state)
    const responseId = this.#id('resp')
    const itemId = this.#id('item')
    send({ type: 'response.created', response: { id: responseId, object: 'realtime.response', status: 'in_progress', output: [] } })
    send({ type: 'response.output_item.added', response_id: responseId, output_index: 0, item: { id: itemId, type: 'message', role: 'assistant', content: [] } })
    const chunks = voiceChunks(replyAudioMs(reply))
    const text = pieces(reply.text, chunks.length)
    for (let i = 0; i < chunks.length && !state.cancelled; i++) {
      send({ type: 'response.output_audio.delta', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0, delta: chunks[i] })
      send({ type: 'response.output_audio_transcript.delta', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0, delta: text[i] })
      await tick()
    }
    if (state.cancelled) {
      send({ type: 'response.done', response: { id: responseId, status: 'cancelled', status_details: { type: 'cancelled', reason: 'turn_detected' }, output: [], usage: usage(reply) } })
      return
    }
    send({ type: 'response.output_audio.done', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 })
    send({ type: 'response.output_audio_transcript.done', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0, transcript: reply.text })
    const output: unknown[] = [{ id: itemId, type: 'message', role: 'assistant' }]
    reply.tools?.forEach((tool, i) => {
      const callId = this.#id('call')
      const fnItem = this.#id('item')
      const args = typeof tool.args === 'string' ? tool.args : JSON.stringify(tool.args)
      send({ type: 'response.output_item.added', response_id: responseId, output_index: i + 1, item: { id: fnItem, type: 'function_call', call_id: callId, name: tool.name, arguments: '' } })
      send({ type: 'response.function_call_arguments.done', response_id: responseId, item_id: fnItem, output_index: i + 1, call_id: callId, name: tool.name, arguments: args })
      output.push({ id: fnItem, type: 'function_call', call_id: callId, name: tool.name, arguments: args })
    })
    send({ type: 'response.done', response: { id: responseId, object: 'realtime.response', status: 'completed', output, usage: usage(reply) } })
  }
}

function usage (reply: FakeReply): Record<string, unknown> {
  const audio = Math.round(replyAudioMs(reply) / 50)
  return {
    total_tokens: 300 + audio,
    input_tokens: 300,
    output_tokens: audio,
    input_token_details: { text_tokens: 200, audio_tokens: 100, cached_tokens: 0 },
    output_token_details: { text_tokens: 0, audio_tokens: audio },
  }
}
