import { runTurnsBench } from './turns.ts'
const r = await runTurnsBench({ concurrency: [1], log: (l) => console.error(l) })
console.log(JSON.stringify(r))
