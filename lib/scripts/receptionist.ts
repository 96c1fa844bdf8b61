import { defineScript } from '../call/script.ts'
import type { ConverseOptions } from '../call/verbs/converse.ts'
import { TOOL_NAMES, type ToolName } from '../agent/tools.ts'
import { realtimeOverrideSchema } from '../realtime/config.ts'

/**
 * Built-in script: the AI receptionist. Everything it says and does comes from the `agent:`
 * section (instructions, greetings, contacts, business hours, transfer targets, deadlines);
 * route options can override per number:
 *   instructions (string), greeting (string, or false for none), tools (list of tool names),
 *   targets (list of transfer target names), targetDescriptions (name -> what it is for),
 *   hints (words the recogniser should prefer), mode (pipeline or realtime), realtime (overrides
 *   of agent.realtime: vendor, model, voice, apiKeyEnv, baseUrl, openTimeoutMs).
 * Needs `speech.stt` and `speech.llm` (pipeline mode).
 */
export default defineScript(async (call) => {
  await call.answer()
  const result = await call.converse(optionsFrom(call.options))
  call.log.info({ end: result.end, turns: result.turns, target: result.target ?? null }, 'receptionist finished')
}, { needs: ['stt', 'llm'] })

export function optionsFrom (o: Readonly<Record<string, unknown>>): ConverseOptions {
  const strings = (v: unknown): string[] | undefined => Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined
  const tools = strings(o.tools)?.filter((t): t is ToolName => (TOOL_NAMES as readonly string[]).includes(t))
  const descriptions = o.targetDescriptions !== null && typeof o.targetDescriptions === 'object' && !Array.isArray(o.targetDescriptions)
    ? Object.fromEntries(Object.entries(o.targetDescriptions).filter((e): e is [string, string] => typeof e[1] === 'string'))
    : undefined
  return {
    ...(typeof o.instructions === 'string' && o.instructions.trim() !== '' ? { instructions: o.instructions } : {}),
    ...(typeof o.greeting === 'string' || o.greeting === false ? { greeting: o.greeting } : {}),
    ...(tools !== undefined ? { tools } : {}),
    ...(strings(o.targets) !== undefined ? { targets: strings(o.targets) } : {}),
    ...(descriptions !== undefined ? { targetDescriptions: descriptions } : {}),
    ...(strings(o.hints) !== undefined ? { hints: strings(o.hints) } : {}),
    // Validated at config load (realtime/config.ts realtimeProblems); parsed again here for the types.
    ...(o.mode === 'pipeline' || o.mode === 'realtime' ? { mode: o.mode } : {}),
    ...(realtimeOverrideSchema.safeParse(o.realtime).success ? { realtime: realtimeOverrideSchema.parse(o.realtime) } : {}),
  }
}
