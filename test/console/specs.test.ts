import { runSpecs } from '../helpers/specs.ts'

await runSpecs(import.meta.url)
