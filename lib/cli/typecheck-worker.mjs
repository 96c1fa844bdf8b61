// Runs TypeScript's API for lib/cli/typecheck.ts in a child process: the native compiler the
// API spawns writes to the stderr it inherits ("context canceled" when closed mid-task), and
// that must not land in phone-agent's own output. Input: JSON on stdin. Output: JSON on stdout.
import { readFileSync } from 'node:fs'
import { dirname } from 'node:path'

const input = JSON.parse(readFileSync(0, 'utf8'))
let API
try {
  ;({ API } = await import('typescript/unstable/sync'))
} catch {
  process.stdout.write(JSON.stringify({ unavailable: 'the typescript package is not installed (npm install --save-dev typescript)' }))
  process.exit(0)
}
const { configPath, tsconfig, root } = input
const api = new API({
  cwd: root,
  fs: {
    readFile: (file) => file === configPath ? tsconfig : undefined,
    fileExists: (file) => file === configPath ? true : undefined,
    directoryExists: (dir) => dir === dirname(configPath) ? true : undefined,
  },
})
try {
  const snapshot = api.updateSnapshot({ openProjects: [configPath] })
  const program = snapshot.getProjects()[0]?.program
  if (program === undefined) {
    process.stdout.write(JSON.stringify({ unavailable: 'the TypeScript compiler opened no project' }))
  } else {
    const pick = (d) => ({ fileName: d.fileName, pos: d.pos, code: d.code, category: d.category, text: d.text })
    const files = program.getSourceFileNames().filter((f) => !f.includes('/node_modules/') && !input.exclude.some((prefix) => f.startsWith(prefix)))
    const diagnostics = [...program.getProgramDiagnostics().map(pick)]
    for (const file of files) {
      for (const d of [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]) diagnostics.push({ ...pick(d), fileName: file })
    }
    process.stdout.write(JSON.stringify({ files, diagnostics }))
  }
  snapshot.dispose()
} finally {
  api.close()
}
