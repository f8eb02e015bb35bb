import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { transform, version as esbuildVersion } from 'esbuild'
import { packageEntrySources, packageRoot, packageVersion } from '../../packageRoot.js'

/**
 * The replay kit: covenant's own sources compiled to plain JavaScript in a folder of their
 * own, so that agent code can be replayed in a child process under Node's permission model
 * (which forbids the child processes a TypeScript loader would start). The folder is
 * `<tmp>/covenant-replay-kit-<hash of the sources>`:
 *
 * - `src/**.js` — each source file, compiled one to one (imports unchanged: `./x.js`);
 * - `package.json` — named `covenant`, with the package's entry points, so a bundle's
 *   `import … from 'covenant/agent'` resolves to these very modules (the runtime that
 *   replays the agent and the agent's own imports share one copy);
 * - `node_modules`, `models` — links to the installed packages and the shipped models;
 * - `agents/<codeHash>.mjs` — the bundles being replayed.
 *
 * Built once per version of the sources and shared by every process on the machine.
 */
export type ReplayKit = {
  dir: string
  /** The child process's entry (compiled `sandbox.child.ts`). */
  childEntry: string
  /** The only paths the child may read. */
  readPaths: string[]
}

const CHILD = 'src/verify/actionReplay/sandbox.child.js'
const MARKER = '.complete'

let building: Promise<ReplayKit> | undefined

/** The kit for the sources this process runs (built on first use). */
export function replayKit(): Promise<ReplayKit> {
  building ??= buildKit().catch((err: unknown) => {
    building = undefined
    throw err
  })
  return building
}

async function buildKit(): Promise<ReplayKit> {
  // the package root whether this runs from src/ (a checkout) or dist/src/ (the build)
  const root = realpathSync(packageRoot())
  const files = sourceFiles(join(root, 'src'))
  // the kit links this checkout's node_modules and models: one kit per checkout and sources
  const hash = createHash('sha256').update(`esbuild ${esbuildVersion}\n${root}\n`)
  const contents = new Map<string, string>()
  for (const f of files) {
    const text = readFileSync(f, 'utf8')
    contents.set(f, text)
    hash.update(`${relative(root, f)}\n${text.length}\n`).update(text)
  }
  const name = `covenant-replay-kit-${hash.digest('hex').slice(0, 20)}`
  let dir = join(tmpdir(), name)
  if (existsSync(dir) && !ownedPrivately(dir)) {
    // someone else's folder under that name (a shared tmp): never run its code, build a private one
    dir = join(tmpdir(), `${name}-${process.pid}-${randomBytes(4).toString('hex')}`)
  }
  const kit = describeKit(root, dir)
  if (existsSync(join(dir, MARKER))) return kit
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  mkdirSync(tmp, { recursive: true, mode: 0o700 })
  try {
    await Promise.all(
      [...contents].map(async ([file, text]) => {
        const out = join(tmp, relative(root, file)).replace(/\.ts$/, '.js')
        mkdirSync(dirname(out), { recursive: true })
        const r = await transform(text, { loader: 'ts', format: 'esm', target: 'node20', sourcefile: relative(root, file) })
        writeFileSync(out, r.code)
      }),
    )
    // the package's entry points, pointed at the compiled sources
    const exportsMap: Record<string, string> = {}
    for (const [k, source] of Object.entries(packageEntrySources())) exportsMap[k] = source.replace(/\.ts$/, '.js')
    // a bundle may import covenant's other modules by path (src/bundle.ts names them covenant/src/…)
    exportsMap['./src/*'] = './src/*'
    writeFileSync(join(tmp, 'package.json'), `${JSON.stringify({ name: 'covenant', version: packageVersion(), private: true, type: 'module', exports: exportsMap }, null, 2)}\n`)
    symlinkSync(realpathSync(join(root, 'node_modules')), join(tmp, 'node_modules'))
    symlinkSync(realpathSync(join(root, 'models')), join(tmp, 'models'))
    mkdirSync(join(tmp, 'agents'), { mode: 0o700 })
    writeFileSync(join(tmp, MARKER), `${new Date().toISOString()}\n`)
    try {
      renameSync(tmp, dir)
    } catch {
      // another process built the same kit first: use that one
      rmSync(tmp, { recursive: true, force: true })
      if (!existsSync(join(dir, MARKER))) throw new Error(`the replay kit ${dir} could not be put in place`)
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true })
    throw err
  }
  chmodSync(dir, 0o700)
  return kit
}

/** Whether `dir` is this user's and nobody else can write into it (the kit's code is what replays run). */
function ownedPrivately(dir: string): boolean {
  const st = lstatSync(dir)
  const uid = process.getuid?.()
  return st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0
}

function describeKit(root: string, dir: string): ReplayKit {
  return {
    dir,
    childEntry: join(dir, CHILD),
    readPaths: [dir, realpathSync(join(root, 'node_modules')), realpathSync(join(root, 'models'))],
  }
}

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...sourceFiles(p))
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(p)
  }
  return out.sort()
}
