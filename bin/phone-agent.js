#!/usr/bin/env node
// The CLI is TypeScript run through tsx: call scripts are TypeScript modules loaded at run time,
// so the loader is needed in production too, and one code path serves both.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../lib/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
