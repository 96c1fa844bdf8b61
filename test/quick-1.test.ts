import { runSpecs } from './helpers/specs.ts'

// The folders this runner covers: test/helpers/spec-groups.ts.
await runSpecs(import.meta.url)
