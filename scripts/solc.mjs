#!/usr/bin/env node
// A solc stand-in for forge: forge cannot download compilers here, so its `solc`
// setting points at this script, which compiles through the npm `solc` package.
// It answers `--version` and `--standard-json` (input on stdin); every other flag
// forge passes (--allow-paths, --base-path, --include-path) only widens where
// imports may be read from, which the import callback below handles itself.
import { readFileSync, existsSync } from 'node:fs'
import { resolve, isAbsolute } from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const solc = require('solc')
const args = process.argv.slice(2)

if (args.includes('--version')) {
  process.stdout.write(
    `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`,
  )
  process.exit(0)
}
if (!args.includes('--standard-json')) {
  process.stderr.write('scripts/solc.mjs supports only --version and --standard-json\n')
  process.exit(2)
}

const roots = [process.cwd()]
for (let i = 0; i < args.length; i++) {
  if (['--base-path', '--include-path', '--allow-paths'].includes(args[i]) && args[i + 1]) {
    for (const p of args[i + 1].split(',')) if (p) roots.push(resolve(p))
    i++
  }
}

function findImports(path) {
  const candidates = isAbsolute(path) ? [path] : roots.map((r) => resolve(r, path))
  for (const c of candidates) if (existsSync(c)) return { contents: readFileSync(c, 'utf8') }
  return { error: `File not found: ${path}` }
}

const input = readFileSync(0, 'utf8')
process.stdout.write(solc.compile(input, { import: findImports }))
