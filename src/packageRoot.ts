import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BaseError } from './errors/base.js'

const NAME = 'covenant'

type PackageJson = {
  name: string
  version: string
  dependencies: Record<string, string>
  devDependencies: Record<string, string>
  exports: Record<string, string | { default?: string }>
}

let found: { root: string; version: string; json: PackageJson } | undefined

/** The code runs from a copy without Covenant's package.json above it (a broken install or a copied folder). */
export class PackageRootNotFoundError extends BaseError {
  override name = 'PackageRootNotFoundError' as const
  constructor(from: string) {
    super(`No package.json named "${NAME}" in any folder above ${from}.`, {
      metaMessages: ['Run Covenant from its installed package or a checkout of the repository (reinstall it if files were moved).'],
    })
  }
}

/**
 * Covenant's own package.json, found by walking up from this file: the repository root in a
 * checkout (this file runs from `src/` under tsx or vitest, or from `dist/src/` once built)
 * and the package folder once installed. Files shipped beside the code (`models/`) and the
 * version live there, so nothing depends on how deep the running copy of the code sits.
 */
function locate(): { root: string; version: string; json: PackageJson } {
  if (found) return found
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = readPackageJson(file)
      if (pkg && pkg.name === NAME && typeof pkg.version === 'string') {
        const json = { name: NAME, version: pkg.version, dependencies: pkg.dependencies ?? {}, devDependencies: pkg.devDependencies ?? {}, exports: pkg.exports ?? {} }
        return (found = { root: dir, version: pkg.version, json })
      }
    }
    const parent = dirname(dir)
    if (parent === dir) throw new PackageRootNotFoundError(fileURLToPath(import.meta.url))
    dir = parent
  }
}

/** A package.json, or undefined when it cannot be read or parsed (not ours: keep walking up). */
function readPackageJson(
  file: string,
): { name?: unknown; version?: unknown; dependencies?: Record<string, string>; devDependencies?: Record<string, string>; exports?: PackageJson['exports'] } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ReturnType<typeof readPackageJson>
  } catch {
    return undefined
  }
}

/** The folder holding Covenant's package.json (the repository root, or the installed package). */
export function packageRoot(): string {
  return locate().root
}

/** Covenant's version, from its package.json. */
export function packageVersion(): string {
  return locate().version
}

/** Covenant's package.json: name, version and dependency ranges. */
export function packageJsonOf(): PackageJson {
  return locate().json
}

/**
 * The package's entry points by subpath (`.`, `./agent`, …), each as the source file it is
 * built from (`./src/agent/index.ts`): package.json names the built files
 * (`./dist/src/agent/index.js`), or in an older layout the sources themselves.
 */
export function packageEntrySources(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [subpath, v] of Object.entries(locate().json.exports)) {
    const target = typeof v === 'string' ? v : v.default
    if (!target || subpath === './package.json') continue
    out[subpath] = target.replace(/^\.\/dist\//, './').replace(/\.js$/, '.ts')
  }
  return out
}
