import { runSpecs } from './helpers/specs.ts'

// Its share of the spec files: test/helpers/specs.ts, specsFor.
await runSpecs(import.meta.url)
