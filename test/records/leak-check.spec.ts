import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// The leak checks (test/records/helpers.ts leakedHandlesSettled) wait for an earlier spec's
// handle to run out. Their wait must keep the process up: when that handle was the last one, an
// unref'd wait let the process exit in the middle of the check (a CI run of b1a35a5: records/
// store.spec's "no timers, sockets or servers left behind" reported as "test unfinished").

const helpers = fileURLToPath(new URL('./helpers.ts', import.meta.url))
// The suite's own light TypeScript loader (type stripping), not tsx: the child costs little.
const loader = new URL('../helpers/ts-loader/register.mjs', import.meta.url).href

t.test('a leftover timer that is the last handle: the check waits it out and answers', async (t) => {
  const script = `
    const { leakedHandlesSettled } = await import(${JSON.stringify(helpers)})
    setTimeout(() => {}, 60)
    const left = await leakedHandlesSettled()
    console.log('settled ' + left.length)
  `
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--import', loader, '--input-type=module', '-e', script], { timeout: 30_000 }, (err, stdout) => {
      if (err !== null) { reject(err); return }
      resolve(stdout)
    })
  })
  t.match(out, /^settled 0$/m, 'the process stayed up until the check answered, and nothing was left')
})
