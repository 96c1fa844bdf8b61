import { toolDefinitions, type ToolContext } from '../../agent/tools.ts'
import type { ToolDefinition } from '../../llm/types.ts'

/** A tool context and the definitions made from it, shared by the calls that offer the same. */
export interface ToolSet {
  readonly context: ToolContext
  readonly tools: readonly ToolDefinition[]
}

/** Distinct sets kept: a few per route (its targets change with the office hours). */
const MAX_SETS = 32
const sets = new Map<string, ToolSet>()

/**
 * The tool set for `context`, made once for every call that offers the same tools, targets and
 * descriptions: the definitions (JSON schemas and their descriptions) were ~1 KB a call, kept for
 * the whole call and the same for all the calls of a route. They are read-only data made from
 * configuration only (nothing of a caller), so sharing them changes nothing a call sees.
 */
export function toolSetFor (context: ToolContext): ToolSet {
  const key = JSON.stringify([context.targets, context.defaultCountry, context.enabled, context.targetDescriptions])
  let set = sets.get(key)
  if (set === undefined) {
    set = { context, tools: toolDefinitions(context) }
    // The oldest goes first: a configuration reload leaves its sets behind.
    if (sets.size >= MAX_SETS) sets.delete(sets.keys().next().value as string)
    sets.set(key, set)
  }
  return set
}
