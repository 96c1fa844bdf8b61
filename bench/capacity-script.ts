import { defineScript } from '../lib/call/script.ts'

/**
 * The capacity bench's call: answer and play a long prompt over the stream until the caller
 * hangs up. It loops because the bench holds calls longer than the file, and a script that
 * returned would end the call.
 */
export default defineScript(async (call) => {
  const file = String(call.options.file ?? 'bench.wav')
  await call.answer()
  while (!call.signal.aborted) await call.play(file)
})
