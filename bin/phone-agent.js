#!/usr/bin/env node
// The CLI is TypeScript run through tsx: call scripts are TypeScript modules loaded at run time,
// so the loader is needed in production too, and one code path serves both.
import { register } from 'tsx/esm/api'

register()
try {
  const { main } = await import('../lib/cli/main.ts')
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  // main() reports its own errors; this is for one that escaped it (a broken install).
  process.stderr.write(`phone-agent: ${err instanceof Error ? err.message : String(err)}\n`)
  if (process.env.PHONE_AGENT_DEBUG !== undefined && err instanceof Error) process.stderr.write(`${err.stack}\n`)
  process.exitCode = 1
}
