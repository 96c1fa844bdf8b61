import type { VerbContext } from '../context.ts'

/** Answer the call (idempotent). Verbs that play or record answer first on their own. */
export async function answer (ctx: VerbContext): Promise<void> {
  if (ctx.channel.answered || ctx.status.answered) return
  await ctx.channel.execute('answer', '', { timeoutMs: ctx.commandTimeoutMs })
  ctx.status.markAnswered()
  ctx.recorder.answered(Date.now())
}
