import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import t from 'tap'
import { taskset } from '../../bench/capacity-child.ts'

// The load bench pins a one-process server's event loop to CPU 1 and leaves its other threads
// (V8's helpers, the held-frame sender) on every CPU: pinned beside the loop they took its CPU
// whenever V8 marked (docs/benchmarks.md, twenty-first session).

const allowed = async (pid: number, tid: string): Promise<string> =>
  /Cpus_allowed_list:\s*(\S+)/.exec(await readFile(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? '?'

const skip = process.platform !== 'linux' || cpus().length < 2 ? 'needs Linux with two CPUs' : false

t.test('taskset on the event loop alone leaves the other threads where they were', { skip }, async (t) => {
  // A Node child: its main thread and V8's and libuv's threads, all on every CPU to begin with.
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  t.teardown(() => { child.kill() })
  const pid = child.pid as number
  let tids: string[] = []
  for (let i = 0; i < 50 && tids.length < 2; i++) {
    tids = await readdir(`/proc/${pid}/task`).catch(() => [])
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.ok(tids.length > 1, 'the child has threads besides its main one')
  const every = await allowed(pid, String(pid))
  t.ok(await taskset('1', pid, false), 'taskset ran')
  t.equal(await allowed(pid, String(pid)), '1', 'the main thread is on CPU 1')
  for (const tid of tids.filter((id) => id !== String(pid))) t.equal(await allowed(pid, tid), every, `thread ${tid} kept every CPU`)
  t.ok(await taskset('1', pid), 'taskset -a ran')
  for (const tid of tids) t.equal(await allowed(pid, tid), '1', `thread ${tid} on CPU 1 with every thread pinned`)
})
