import type { ChatMessage, ToolCallRef } from '../llm/types.ts'

/**
 * The conversation as the caller actually heard it, in OpenAI chat format for the next prompt
 * and as a timestamped transcript for the call record.
 *
 * An assistant reply is written while it is spoken: each sentence is queued for TTS and marked
 * spoken when its audio finished. On barge-in the reply is committed truncated to what was heard
 * and marked interrupted, so the model does not believe it said things the caller never heard
 * (pipecat places its assistant aggregator after the output for the same reason).
 */

export interface TranscriptEntry {
  /** ISO 8601. For a reply, when it began; `endedAt` is when it was committed. */
  readonly at: string
  readonly endedAt?: string
  readonly role: 'user' | 'assistant' | 'tool_call' | 'tool_result'
  readonly text: string
  /** True when the caller spoke over this reply: `text` is what was heard before that. */
  readonly interrupted: boolean
  readonly toolCallId?: string
  readonly toolName?: string
}

/**
 * An entry as the history keeps it: times in epoch ms. The ISO text is made where the transcript
 * is read (`transcript()`): kept, each was a 40-byte string beside the number it came from, about
 * 19 a talking call (issue 18), and the call record parsed them back to numbers.
 */
export type TimedEntry = Omit<TranscriptEntry, 'at' | 'endedAt'> & { readonly at: number, readonly endedAt?: number }

/**
 * System instructions as two pieces joined when a prompt is built: a head the calls share (the
 * operator's instructions) and the call's own text. Kept joined, every call held its own copy of
 * the whole (~0.7 KB in the load bench, most of it the same for every call; issue 18).
 */
export interface SystemParts {
  readonly shared: string
  readonly own: string
}

export interface HistoryOptions {
  /** System instructions; always the first message of the prompt. */
  readonly system: string | SystemParts
  /**
   * Bound on the prompt (characters of message text, a stand-in for tokens: ~4 per token).
   * The oldest whole turns are dropped first; the system message and the latest turn never are.
   */
  readonly maxChars?: number
  /** Clock for timestamps (tests use a fake one). */
  readonly now?: () => number
}

/** What an unanswered tool call gets, since the API rejects a tool call without a result. */
export const INTERRUPTED_TOOL_RESULT = '{"error":"interrupted before a result was available"}'

interface Committed {
  readonly message: ChatMessage
  /** Index of the turn (one user message and everything until the next one). */
  readonly turn: number
}

export class ConversationHistory {
  #system: string | SystemParts
  readonly #maxChars: number
  readonly #now: () => number
  readonly #messages: Committed[] = []
  readonly #transcript: TimedEntry[] = []
  #turn = 0
  #open: AssistantTurn | undefined

  constructor (options: HistoryOptions) {
    this.#system = options.system
    this.#maxChars = options.maxChars ?? 24_000
    this.#now = options.now ?? Date.now
  }

  /** Replace the system instructions (contact profile, time of day, after-hours variant). */
  setSystem (text: string): void {
    this.#system = text
  }

  /** The caller's utterance. A reply still open is closed first, as heard so far. */
  addUser (text: string, at?: number): void {
    this.#closeOpen()
    this.#turn++
    this.#push({ role: 'user', content: text })
    // Whole ms, as the ISO text (and the record that parsed it back) always had: a speech end may be fractional.
    this.#transcript.push({ at: Math.trunc(at ?? this.#now()), role: 'user', text, interrupted: false })
  }

  /** Start the assistant reply that is about to be spoken. A reply still open is closed first. */
  beginAssistant (): AssistantTurn {
    this.#closeOpen()
    const turn = new AssistantTurn(this.#now, (messages, entries) => {
      for (const m of messages) this.#push(m)
      this.#transcript.push(...entries)
      if (this.#open === turn) this.#open = undefined
    })
    this.#open = turn
    return turn
  }

  /** The prompt: system first, then as many recent whole turns as fit in maxChars. */
  messages (): ChatMessage[] {
    const text = typeof this.#system === 'string' ? this.#system : this.#system.shared + this.#system.own
    const system: ChatMessage = { role: 'system', content: text }
    let budget = this.#maxChars - text.length
    let firstKept = this.#messages.length
    const latestTurn = this.#messages.at(-1)?.turn
    // Walk back turn by turn: a turn is kept whole, so a tool result never loses its call.
    let i = this.#messages.length
    while (i > 0) {
      const turn = this.#messages[i - 1]?.turn
      let j = i
      let size = 0
      while (j > 0 && this.#messages[j - 1]?.turn === turn) {
        size += messageChars(this.#messages[j - 1]?.message)
        j--
      }
      if (size > budget && turn !== latestTurn) break
      budget -= size
      firstKept = j
      i = j
    }
    // A reply still being written (a tool round) is part of the latest turn: the model must see
    // its own tool calls and their results in the next request.
    const draft = this.#open?.draft() ?? []
    return [system, ...this.#messages.slice(firstKept).map((c) => c.message), ...draft]
  }

  /** Every utterance, reply and tool call of the call, oldest first; nothing is ever dropped. */
  transcript (): TranscriptEntry[] {
    return this.#transcript.map(withIso)
  }

  /** The entries from index `from` on, times in epoch ms (for the call record, which keeps numbers). */
  entriesSince (from: number): readonly TimedEntry[] {
    return this.#transcript.slice(from)
  }

  #push (message: ChatMessage): void {
    this.#messages.push({ message, turn: this.#turn })
  }

  #closeOpen (): void {
    const open = this.#open
    if (open === undefined) return
    if (open.allSpoken) open.complete()
    else open.interrupt()
  }
}

interface Segment {
  readonly sentences: Array<{ text: string, spoken: boolean }>
  readonly calls: ToolCallRef[]
  /** Made with the first result: most replies call no tool (an empty Map is ~180 B of heap). */
  results: Map<string, string> | undefined
}

/**
 * One assistant reply, possibly over several LLM rounds (text, tool calls, tool results, more
 * text). Thrown away once committed: later calls (audio that finished after a barge-in) are
 * ignored.
 */
export class AssistantTurn {
  readonly #now: () => number
  readonly #commit: (messages: ChatMessage[], entries: TimedEntry[]) => void
  readonly #startedAt: number
  readonly #segments: Segment[] = [newSegment()]
  readonly #ids = new Map<number, { segment: Segment, index: number }>()
  /** Made with the first tool call, as a segment's results. */
  #callTimes: Map<string, number> | undefined
  #nextId = 0
  #committed = false

  /** @internal created by ConversationHistory.beginAssistant */
  constructor (now: () => number, commit: (messages: ChatMessage[], entries: TimedEntry[]) => void) {
    this.#now = now
    this.#commit = commit
    this.#startedAt = now()
  }

  get committed (): boolean {
    return this.#committed
  }

  /** Whether every queued sentence has been heard in full. */
  get allSpoken (): boolean {
    return this.#segments.every((s) => s.sentences.every((x) => x.spoken))
  }

  /** A sentence queued for TTS; returns the id to pass to `spoken` when its audio has finished. */
  say (sentence: string): number {
    const id = this.#nextId++
    if (this.#committed) return id
    const segment = this.#current()
    segment.sentences.push({ text: sentence, spoken: false })
    this.#ids.set(id, { segment, index: segment.sentences.length - 1 })
    return id
  }

  /** The sentence's audio finished playing: the caller heard it. */
  spoken (id: number): void {
    if (this.#committed) return
    const ref = this.#ids.get(id)
    const sentence = ref?.segment.sentences[ref.index]
    if (sentence !== undefined) sentence.spoken = true
  }

  /** The model called a tool (raw JSON arguments as the model wrote them). */
  toolCall (call: { id: string, name: string, arguments: string }): void {
    if (this.#committed) return
    this.#current().calls.push({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } })
    this.#callTimes ??= new Map()
    this.#callTimes.set(call.id, this.#now())
  }

  /** The result handed back to the model for a tool call (JSON or text). */
  toolResult (id: string, content: string): void {
    if (this.#committed) return
    // Latest first: some servers number calls per response, so an id may repeat across rounds.
    const segment = this.#segments.findLast((s) => s.calls.some((c) => c.id === id))
    if (segment === undefined) return
    segment.results ??= new Map()
    segment.results.set(id, content)
  }

  /** The reply ended and was heard to the end. */
  complete (): void {
    this.#finish(false, undefined)
  }

  /**
   * The caller spoke over the reply. `heardText` is the part of the sentence being played that
   * was heard before it stopped (estimated by the caller from the playback position), if known.
   */
  interrupt (heardText?: string): void {
    this.#finish(true, heardText)
  }

  #current (): Segment {
    const last = this.#segments.at(-1) ?? newSegment()
    // Text after a tool call belongs to the next assistant message (after the tool results).
    if (last.calls.length > 0) {
      const next = newSegment()
      this.#segments.push(next)
      return next
    }
    return last
  }

  /** The messages this reply would commit if it completed now (for a tool round's request). */
  draft (): ChatMessage[] {
    if (this.#committed) return []
    return this.#build(false, undefined, this.#now()).messages
  }

  #finish (interrupted: boolean, heardText: string | undefined): void {
    if (this.#committed) return
    this.#committed = true
    const { messages, entries } = this.#build(interrupted, heardText, this.#now())
    this.#commit(messages, entries)
  }

  #build (interrupted: boolean, heardText: string | undefined, end: number): { messages: ChatMessage[], entries: TimedEntry[] } {
    const messages: ChatMessage[] = []
    const entries: TimedEntry[] = []
    const partial = heardText?.trim() ?? ''
    let cut = false
    let lastText: TimedEntry | undefined
    for (const segment of this.#segments) {
      const heard: string[] = []
      let cutHere = false
      for (const s of segment.sentences) {
        if (cut) break
        if (!interrupted || s.spoken) {
          heard.push(s.text)
          continue
        }
        // The first unheard sentence: keep the part that was heard, drop everything after it.
        if (partial !== '') heard.push(partial)
        cut = true
        cutHere = true
      }
      const text = heard.join(' ')
      if (text !== '' || cutHere) {
        lastText = { at: this.#startedAt, endedAt: end, role: 'assistant', text, interrupted: cutHere }
        entries.push(lastText)
      }
      // Tool calls are kept even after the cut: they ran, whether or not the caller heard about it.
      if (segment.calls.length > 0) {
        messages.push({ role: 'assistant', content: text === '' ? null : text, tool_calls: [...segment.calls] })
        for (const call of segment.calls) {
          const result = segment.results?.get(call.id)
          messages.push({ role: 'tool', tool_call_id: call.id, content: result ?? INTERRUPTED_TOOL_RESULT })
          const callAt = this.#callTimes?.get(call.id) ?? end
          const tool = { toolCallId: call.id, toolName: call.function.name }
          entries.push({ at: callAt, role: 'tool_call', text: call.function.arguments, interrupted: false, ...tool })
          entries.push({ at: callAt, role: 'tool_result', text: result ?? INTERRUPTED_TOOL_RESULT, interrupted: result === undefined, ...tool })
        }
      } else if (text !== '') {
        messages.push({ role: 'assistant', content: text })
      }
    }
    // Interrupted after everything queued was heard: the model was still writing, so the reply
    // is cut short all the same.
    if (interrupted && !cut) {
      if (lastText === undefined) entries.push({ at: this.#startedAt, endedAt: end, role: 'assistant', text: '', interrupted: true })
      else entries[entries.indexOf(lastText)] = { ...lastText, interrupted: true }
    }
    return { messages, entries }
  }
}

function newSegment (): Segment {
  return { sentences: [], calls: [], results: undefined }
}

function messageChars (m: ChatMessage | undefined): number {
  if (m === undefined) return 0
  let n = typeof m.content === 'string' ? m.content.length : 0
  if (m.role === 'assistant') for (const c of m.tool_calls ?? []) n += c.function.name.length + c.function.arguments.length
  return n
}

function iso (ms: number): string {
  return new Date(ms).toISOString()
}

/** The entry as the transcript shows it: the same fields in the same order, times as ISO 8601. */
function withIso (e: TimedEntry): TranscriptEntry {
  const { at, endedAt, ...rest } = e
  return endedAt === undefined ? { at: iso(at), ...rest } : { at: iso(at), endedAt: iso(endedAt), ...rest }
}
