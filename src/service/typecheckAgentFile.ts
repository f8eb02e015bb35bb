import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { AgentTypeError } from './errors.js'

export type TypecheckAgentFileReturnType =
  | { checked: true; tsconfig: string; compiler: string }
  /** Not checked: a JavaScript file, no tsconfig.json above it, or no TypeScript compiler to be found. */
  | { checked: false; reason: string }

/** The errors shown in the message; the rest are counted. */
const SHOWN = 10

/** The nearest tsconfig.json in `dir` or a folder above it. */
function findTsconfig(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const f = join(d, 'tsconfig.json')
    if (existsSync(f)) return f
    if (dirname(d) === d) return undefined
  }
}

/** The TypeScript compiler of the agent's project, else the one beside Covenant (a checkout). */
function findCompiler(file: string): string | undefined {
  for (const from of [file, import.meta.url]) {
    try {
      return join(dirname(createRequire(from).resolve('typescript/package.json')), 'bin', 'tsc')
    } catch {
      // not installed there
    }
  }
  return undefined
}

function run(args: readonly string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.once('error', fail)
    child.once('close', (code) => done({ code, output }))
  })
}

/**
 * Type-checks a TypeScript agent file — and what it imports — with its project's settings:
 * the nearest tsconfig.json above it, restricted to this file and the project's declaration
 * files, by the project's own TypeScript compiler (or the one beside Covenant). A file that does not type-check is an
 * {@link AgentTypeError} listing the errors; nothing else is done with it. A JavaScript file,
 * or one with no tsconfig.json or compiler to be found, is not checked, and the answer says why.
 */
export async function typecheckAgentFile(path: string): Promise<TypecheckAgentFileReturnType> {
  const file = resolve(path)
  if (!/\.[cm]?tsx?$/.test(file)) return { checked: false, reason: 'it is JavaScript' }
  const tsconfig = findTsconfig(dirname(file))
  if (!tsconfig) return { checked: false, reason: `no tsconfig.json in ${dirname(file)} or above it` }
  const compiler = findCompiler(file)
  if (!compiler) return { checked: false, reason: 'no TypeScript compiler is installed (npm install -D typescript)' }
  // The project's settings for this one file: a config that extends the project's. It sits
  // beside the project's for the few seconds of the check, because TypeScript finds the
  // `types` (node_modules/@types) from the folder of the config it is given.
  // The project's own declaration files come too (ambient `declare module` typings, such as
  // src/types/*.d.ts), build output and dependencies aside.
  const settings = JSON.stringify({
    extends: tsconfig,
    compilerOptions: { noEmit: true, incremental: false, composite: false },
    files: [file],
    include: ['**/*.d.ts'],
    exclude: ['**/node_modules', 'dist', 'build', 'out', '.*'],
  })
  const name = `.covenant-typecheck-${process.pid}-${randomBytes(4).toString('hex')}.json`
  let config = join(dirname(tsconfig), name)
  let scratch: string | undefined
  try {
    writeFileSync(config, settings, { flag: 'wx' })
  } catch {
    // a project folder we may not write to: from elsewhere (types then resolve from there)
    scratch = mkdtempSync(join(tmpdir(), 'covenant-typecheck-'))
    config = join(scratch, name)
    writeFileSync(config, settings)
  }
  try {
    const { code, output } = await run([compiler, '-p', config, '--pretty', 'false'], dirname(tsconfig))
    if (code === 0) return { checked: true, tsconfig, compiler }
    const errors = output.split('\n').filter((l) => /error TS\d+:/.test(l))
    throw new AgentTypeError({ file, tsconfig, errors: errors.length ? errors.slice(0, SHOWN) : [output.trim().split('\n')[0] ?? `tsc exited with ${code}`], more: Math.max(0, errors.length - SHOWN) })
  } finally {
    rmSync(scratch ?? config, { recursive: true, force: true })
  }
}
