#!/usr/bin/env node
// The `covenant` command. It runs the built JavaScript in dist/ (`npm run build`, which
// `npm ci`, `npm install` and `npm pack` run through `prepare`): plain Node, fast to start.
// In a checkout it does so only while the build is at least as new as every source file;
// without a build, or after an edit since the last one, it runs the TypeScript sources
// through tsx — slower to start, never stale. COVENANT_FROM_SOURCE=1 forces the sources.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const built = join(root, 'dist', 'src', 'cli', 'main.js')
const stamp = join(root, 'dist', 'build.json')
/** The folders the build compiles from (the demo imports its agents from examples/). */
const SOURCE_ROOTS = ['src', 'examples']

/** The newest mtime (ms) of a TypeScript file under `dir` (tests aside: the build leaves them out), or 0. */
function newestSource(dir) {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

function builtIsCurrent() {
  if (process.env.COVENANT_FROM_SOURCE === '1' || !existsSync(built) || !existsSync(stamp)) return false
  const buildStarted = statSync(stamp).mtimeMs
  // an installed package ships no sources: its build is the code
  return SOURCE_ROOTS.every((dir) => !existsSync(join(root, dir)) || newestSource(join(root, dir)) <= buildStarted)
}

if (builtIsCurrent()) {
  await import(new URL('../dist/src/cli/main.js', import.meta.url).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/main.ts')
}
