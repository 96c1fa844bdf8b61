#!/usr/bin/env node
// Builds udp-mux.node (udp-mux.c and the C files beside it) with the machine's C compiler and Node's own headers.
// Run at install (package.json postinstall, with --optional: no compiler or no headers is a note,
// not a failure, and the service keeps a socket per call) and by `npm run build:native`.
// Plain JavaScript: it runs before any TypeScript tooling is installed.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { nativeDir as here, nativeSources, sourcesHash } from './sources.mjs'

const optional = process.argv.includes('--optional')
const sources = nativeSources().filter((name) => name.endsWith('.c')).map((name) => join(here, name))
const out = join(here, 'build', 'udp-mux.node')

function give (message) {
  if (optional) {
    console.log(`phone-agent: ${message}; media keeps a UDP socket per call (media.stream.sockets: per-call)`)
    process.exit(0)
  }
  console.error(`phone-agent: ${message}`)
  process.exit(1)
}

if (process.platform !== 'linux') give('the batched UDP helper is for Linux (recvmmsg/sendmmsg)')
const headers = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node']
  .find((dir) => existsSync(join(dir, 'node_api.h')) && existsSync(join(dir, 'uv.h')))
if (headers === undefined) give("Node's C headers (node_api.h, uv.h) were not found")
const compiler = process.env.CC ?? 'cc'
mkdirSync(join(here, 'build'), { recursive: true })
const temporary = `${out}.${process.pid}.tmp`
const result = spawnSync(compiler, ['-O2', '-fPIC', '-shared', '-Wall', '-Wextra', '-Wno-unused-parameter', '-pthread', `-I${headers}`, '-o', temporary, ...sources], { encoding: 'utf8' })
if (result.error !== undefined) give(`cannot run the C compiler ${compiler} (${result.error.code ?? result.error.message})`)
if (result.status !== 0) give(`${compiler} could not build the batched UDP helper:\n${result.stderr}`)
renameSync(temporary, out)
// The loader refuses a build of another source (lib/media/native/udp-mux-addon.ts).
writeFileSync(`${out}.sha256`, sourcesHash())
if (!optional || process.env.npm_lifecycle_event === undefined) console.log(`built ${out}`)
