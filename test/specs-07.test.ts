import { runSpecs } from './helpers/specs.ts'

// Its specs: claimed one at a time from the run's shared queue under npm test, else its share
// dealt in advance (test/helpers/specs.ts, runSpecs).
await runSpecs(import.meta.url)
