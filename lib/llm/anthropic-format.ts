import type Anthropic from '@anthropic-ai/sdk'
import type { ChatMessage, ToolDefinition } from './types.ts'

/**
 * Our history (OpenAI chat format) -> a Messages API request. The differences that matter
 * (Messages API reference, "Create a Message"; tool use guide, "Handling tool use results"):
 * - there is no `system` role in `messages`: instructions go in the top-level `system`;
 * - a tool call is a `tool_use` block in the assistant message, its result a `tool_result`
 *   block in the next user message, results first, before any text;
 * - the first message must be the user's (a 400 "first message must use the user role"
 *   otherwise), and empty text blocks are rejected ("text content blocks must be non-empty").
 */

type ContentBlock = Anthropic.Messages.ContentBlockParam
type MessageParam = Anthropic.Messages.MessageParam

export interface AnthropicRequest {
  readonly system: string | undefined
  readonly messages: MessageParam[]
  readonly tools: Anthropic.Messages.Tool[] | undefined
}

/**
 * Stands in for the caller when the history starts with the agent (a greeting, or history cut
 * to fit): the API refuses an assistant message first, and dropping the greeting would lose
 * what the caller heard.
 */
export const CALL_STARTED = '(The call was answered.)'

export function toAnthropicRequest (messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | undefined): AnthropicRequest {
  const system: string[] = []
  const out: Array<{ role: 'user' | 'assistant', content: ContentBlock[] }> = []
  const push = (role: 'user' | 'assistant', blocks: ContentBlock[]): void => {
    if (blocks.length === 0) return
    const last = out.at(-1)
    // Consecutive messages of one role become one message: the API would merge them anyway,
    // and tool results after an interrupted reply must sit in the same user turn as the words.
    if (last?.role === role) last.content.push(...blocks)
    else out.push({ role, content: blocks })
  }
  for (const m of messages) {
    switch (m.role) {
      case 'system':
        if (m.content !== '') system.push(m.content)
        break
      case 'user':
        push('user', textBlocks(m.content))
        break
      case 'assistant':
        push('assistant', [...textBlocks(m.content), ...(m.tool_calls ?? []).map((c): ContentBlock => ({
          type: 'tool_use', id: c.id, name: c.function.name, input: toolInput(c.function.arguments),
        }))])
        break
      case 'tool':
        push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: m.content === '' ? '(no result)' : m.content }])
        break
    }
  }
  for (const m of out) {
    // tool_result blocks must open their user message.
    if (m.role === 'user') m.content.sort((a, b) => Number(b.type === 'tool_result') - Number(a.type === 'tool_result'))
  }
  if (out[0]?.role === 'assistant') out.unshift({ role: 'user', content: [{ type: 'text', text: CALL_STARTED }] })
  return {
    system: system.length === 0 ? undefined : system.join('\n\n'),
    messages: out,
    tools: tools === undefined || tools.length === 0 ? undefined : tools.map(toAnthropicTool),
  }
}

export function toAnthropicTool (t: ToolDefinition): Anthropic.Messages.Tool {
  return {
    name: t.function.name,
    ...(t.function.description === undefined ? {} : { description: t.function.description }),
    input_schema: { type: 'object', ...t.function.parameters } as Anthropic.Messages.Tool.InputSchema,
  }
}

function textBlocks (text: string | null): ContentBlock[] {
  return text === null || text.trim() === '' ? [] : [{ type: 'text', text }]
}

/**
 * A tool_use block carries its input as an object. Our history keeps the model's JSON text;
 * text that is not a JSON object (a model that wrote broken JSON, which our guard refused) is
 * sent as an empty input so the request stays valid, and the refusal in the tool_result says why.
 */
function toolInput (json: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(json === '' ? '{}' : json)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
  } catch {
    return {}
  }
}
