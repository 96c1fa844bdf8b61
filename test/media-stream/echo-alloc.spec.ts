import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// EchoRatios.bound allocates nothing once optimised: measured in a process of its own
// (echo-alloc-child.ts says why and how).

t.test('EchoRatios.bound allocates nothing once optimised', async (t) => {
  const child = fileURLToPath(new URL('./echo-alloc-child.ts', import.meta.url))
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', child], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${err.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
  const bytes = JSON.parse(out.trim().split('\n').at(-1) as string) as Record<string, number>
  t.same(Object.keys(bytes).length, 2, 'both modes measured')
  // A call looks at 7 delays x 4 bands (28 floors) or 40 x 4 (160): boxed, 894 and 5,102 bytes.
  for (const [mode, perCall] of Object.entries(bytes)) t.ok(perCall < 16, `${mode}: ${perCall.toFixed(1)} bytes per call`)
})
