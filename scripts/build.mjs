#!/usr/bin/env node
// Builds the package: `tsc -p tsconfig.build.json` (ESM JavaScript + .d.ts), and one
// CommonJS bundle per entry point (esbuild, dist/cjs/<entry>.cjs, the `require` condition of
// package.json's exports; dependencies stay external), into a fresh folder beside dist/,
// then swaps it in, so a `covenant` process starting meanwhile sees the
// old build or the new one, never half of one. `prepare` runs it, so `npm ci`, `npm install`
// in a checkout and `npm pack` all build; it needs no network.
//
// dist/build.json records the build; its mtime is the moment the build *started*, so
// bin/covenant.js treats any source saved during or after the build as newer than the build
// (and runs the sources through tsx instead).
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const next = join(root, `dist.building-${process.pid}`)
const old = join(root, `dist.old-${process.pid}`)
const started = new Date()

let tsc
try {
  tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc')
} catch {
  // `npm ci --omit=dev` has no compiler: the CLI then runs the sources through tsx. Packing
  // without a build would ship nothing, so that fails.
  const packing = ['pack', 'publish'].includes(process.env.npm_command ?? '')
  process.stderr.write(`build: typescript is not installed; ${packing ? 'cannot pack without dist/' : 'skipping the build (the CLI runs the sources through tsx)'}\n`)
  process.exit(packing ? 1 : 0)
}

rmSync(next, { recursive: true, force: true })
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', next], { cwd: root, stdio: 'inherit' })
// tsc exits 2 when it found type errors but wrote the output anyway. A checkout in the middle
// of an edit still builds (the CLI would run those sources through tsx just the same, and
// `npm test` type-checks); a package is never packed from code that does not type-check.
const packing = ['pack', 'publish'].includes(process.env.npm_command ?? '')
if (result.status !== 0 && !(result.status === 2 && !packing)) {
  rmSync(next, { recursive: true, force: true })
  process.stderr.write(`build: tsc failed (exit ${result.status ?? result.signal}); dist/ left as it was\n`)
  process.exit(1)
}
if (result.status === 2) process.stderr.write('build: dist/ built, but the sources do not type-check (npm run typecheck)\n')

const { version, exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

// CommonJS: every entry whose exports name a `require` file, bundled from its sources.
// `import.meta.url` becomes the bundle's own file URL (packageRoot walks up from there).
const { build } = await import('esbuild')
for (const [subpath, target] of Object.entries(exports)) {
  if (typeof target !== 'object' || typeof target.require !== 'string') continue
  const source = target.default.replace(/^\.\/dist\//, './').replace(/\.js$/, '.ts')
  const outfile = join(next, target.require.replace(/^\.\/dist\//, ''))
  try {
    await build({
      entryPoints: [join(root, source)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
      define: { 'import.meta.url': '__covenant_import_meta_url' },
      banner: { js: "const __covenant_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    })
  } catch (err) {
    rmSync(next, { recursive: true, force: true })
    process.stderr.write(`build: the CommonJS bundle of ${subpath} failed (${err.message.split('\n')[0]}); dist/ left as it was\n`)
    process.exit(1)
  }
}
const stamp = join(next, 'build.json')
writeFileSync(stamp, `${JSON.stringify({ version, startedAt: started.toISOString() }, null, 2)}\n`)
utimesSync(stamp, started, started)

if (existsSync(dist)) renameSync(dist, old)
renameSync(next, dist)
rmSync(old, { recursive: true, force: true })
process.stderr.write(`build: dist/ built in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s\n`)
