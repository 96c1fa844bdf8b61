import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

/**
 * A throwaway PostgreSQL cluster in a temp dir on a random loopback port, for tests only.
 * Needs the Debian `postgresql` package (initdb and postgres). PostgreSQL refuses to run as
 * root, so under root the cluster runs as the `postgres` user the package creates.
 */
export interface PgCluster {
  readonly url: string
  stop (): Promise<void>
}

function findBin (name: string): string | undefined {
  try {
    return execFileSync('which', [name], { encoding: 'utf8' }).trim() || undefined
  } catch {
    const base = '/usr/lib/postgresql'
    if (!existsSync(base)) return undefined
    for (const v of readdirSync(base).sort().reverse()) {
      const p = join(base, v, 'bin', name)
      if (existsSync(p)) return p
    }
    return undefined
  }
}

/** Why the cluster cannot run here, or undefined when it can. */
export function pgUnavailableReason (): string | undefined {
  if (process.env.PHONE_AGENT_SKIP_PG_TESTS !== undefined) return 'PHONE_AGENT_SKIP_PG_TESTS is set'
  if (findBin('initdb') === undefined || findBin('postgres') === undefined) {
    return 'PostgreSQL binaries not found: apt-get install postgresql (initdb and postgres are used, no service is started)'
  }
  if (process.getuid?.() === 0 && postgresUser() === undefined) return 'running as root and there is no postgres user to run the cluster as'
  return undefined
}

function postgresUser (): { uid: number, gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    return { uid, gid }
  } catch {
    return undefined
  }
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => { resolve(port) })
    })
  })
}

/**
 * A fresh cluster's data directory, made once per PostgreSQL binary, version and user and kept in the temp
 * dir for the test processes that follow. Made aside and renamed into place, so two processes
 * starting at once both end up with a whole one.
 */
function templateCluster (initdb: string, asUser: { uid?: number, gid?: number }): string {
  const version = execFileSync(initdb, ['--version'], { encoding: 'utf8' })
  const key = `${String(asUser.uid ?? process.getuid?.() ?? 0)}-${initdb}-${version}`.replace(/[^a-zA-Z0-9.]+/g, '_')
  const template = join(tmpdir(), `phone-agent-pg-template-${key}`)
  if (existsSync(join(template, 'PG_VERSION'))) return template
  const work = mkdtempSync(join(tmpdir(), 'phone-agent-pg-init-'))
  if (asUser.uid !== undefined && asUser.gid !== undefined) chownSync(work, asUser.uid, asUser.gid)
  execFileSync(initdb, ['-D', join(work, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--no-locale'],
    { ...asUser, stdio: 'pipe', cwd: work })
  try {
    renameSync(join(work, 'data'), template)
  } catch {
    // Another process put its template in place first: that one is used.
  }
  rmSync(work, { recursive: true, force: true })
  return template
}

export async function startPgCluster (): Promise<PgCluster> {
  const initdb = findBin('initdb')!
  const postgres = findBin('postgres')!
  const ids = process.getuid?.() === 0 ? postgresUser() : undefined
  const dir = mkdtempSync(join(tmpdir(), 'phone-agent-pg-'))
  if (ids !== undefined) chownSync(dir, ids.uid, ids.gid)
  const data = join(dir, 'data')
  const asUser = ids === undefined ? {} : { uid: ids.uid, gid: ids.gid }
  // A copy of a cluster initdb made once for the whole run: initdb takes ~1.5 CPU-s, the copy ~0.4.
  execFileSync('cp', ['-a', templateCluster(initdb, asUser), data], { stdio: 'pipe' })
  const port = await freePort()
  const child: ChildProcess = spawn(postgres, ['-D', data, '-k', dir, '-h', '127.0.0.1', '-p', String(port), '-F'],
    { ...asUser, stdio: 'ignore', cwd: dir })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`

  const deadline = Date.now() + 60_000
  for (;;) {
    const client = new pg.Client({ connectionString: url })
    try {
      await client.connect()
      await client.end()
      break
    } catch (err) {
      await client.end().catch(() => {})
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL')
        rmSync(dir, { recursive: true, force: true })
        throw err
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  return {
    url,
    async stop () {
      // SIGINT is PostgreSQL's "fast shutdown": roll back open transactions and exit.
      if (child.exitCode === null) child.kill('SIGINT')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
