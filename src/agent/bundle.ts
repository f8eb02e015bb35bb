import { realpathSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { build, type Plugin } from 'esbuild'
import { type Hex, keccak256 } from 'viem'
import { AgentBundleError } from './errors.js'
import { packageEntrySources, packageRoot } from '../packageRoot.js'

/** The format of an agent code bundle (what the manifest's `codeBundle.format` says). */
export const CODE_BUNDLE_FORMAT = 'esm-bundle/v1'

/** The largest agent bundle accepted, in bytes (the user's code only: packages stay outside). */
export const MAX_BUNDLE_BYTES = 4 << 20

export type AgentBundle = {
  /** One ESM file: the agent file and the user's own modules it imports. */
  bytes: Uint8Array
  /** keccak256(bytes): the manifest's `codeHash`. */
  codeHash: Hex
  format: typeof CODE_BUNDLE_FORMAT
}

/** The covenant package root (this file is `<root>/src/agent/bundle.ts`). */
const SKIP = Symbol('covenant-bundle-resolve')

/**
 * Bundles an agent file into the bytes a verifier re-runs: one ESM file holding the user's
 * code (the agent file and the relative modules it imports), with every npm package —
 * covenant itself, zod, viem, LangChain… — left as an import. Imports of covenant's own
 * sources by relative path (`../../src/agent/index.js`, as the examples do) become
 * `covenant/<entry>` imports, so the bundle never carries a copy of the framework and its
 * bytes do not depend on where the project lives. `codeHash = keccak256(bytes)`.
 *
 * The same file, the same imported modules and the same esbuild give the same bytes.
 */
export async function bundleAgentFile(path: string): Promise<AgentBundle> {
  const file = resolve(path)
  if (!statSync(file, { throwIfNoEntry: false })?.isFile()) throw new AgentBundleError(`there is no agent file at ${file}`)
  let result: Awaited<ReturnType<typeof build>>
  try {
    result = await build({
      entryPoints: [file],
      absWorkingDir: dirname(file),
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      charset: 'utf8',
      legalComments: 'inline',
      sourcemap: false,
      logLevel: 'silent',
      plugins: [covenantSourcesExternal()],
    })
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? []
    throw new AgentBundleError(
      `esbuild could not bundle ${file}`,
      errors.length ? errors.slice(0, 8).map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`) : [(err as Error).message],
    )
  }
  const out = result.outputFiles?.[0]
  if (!out) throw new AgentBundleError(`esbuild produced no output for ${file}`)
  const bytes = out.contents
  if (bytes.length > MAX_BUNDLE_BYTES) {
    throw new AgentBundleError(`the bundle of ${file} is ${bytes.length} bytes, more than ${MAX_BUNDLE_BYTES}`, [
      'The bundle holds your own code only; import large data at run time or move it into a package.',
    ])
  }
  return { bytes, codeHash: keccak256(bytes), format: CODE_BUNDLE_FORMAT }
}

/** Checks bundle bytes against the codeHash a manifest registered; throws AgentBundleError if they differ. */
export function assertBundleHash(bytes: Uint8Array, codeHash: Hex): void {
  const actual = keccak256(bytes)
  if (actual !== codeHash.toLowerCase()) {
    throw new AgentBundleError(`the bundle bytes hash to ${actual}, but the manifest registers codeHash ${codeHash.toLowerCase()}`, [
      'The blob is not the code the agent registered: it cannot be replayed (fetch it again from DA by the manifest\'s codeBundle.commitment).',
    ])
  }
}

/**
 * The bare specifier a covenant source file is imported as in a bundle: its package entry
 * (`covenant/agent` for src/agent/index.ts) when it has one, else `covenant/src/<path>.js`.
 */
export function covenantSpecifier(file: string): string | undefined {
  const root = realRoot()
  const rel = relative(join(root, 'src'), file)
  if (rel.startsWith('..') || isAbsolute(rel)) return undefined
  const posix = `src/${rel.split(sep).join('/')}`
  const entry = Object.entries(packageEntrySources()).find(([, target]) => target === `./${posix}`)
  if (entry) return entry[0] === '.' ? 'covenant' : `covenant/${entry[0].slice(2)}`
  return `covenant/${posix.replace(/\.ts$/, '.js')}`
}

function covenantSourcesExternal(): Plugin {
  return {
    name: 'covenant-sources-external',
    setup(b) {
      b.onResolve({ filter: /^(\.|\/|[A-Za-z]:[\\/])/ }, async (args) => {
        if (args.pluginData === SKIP || args.kind === 'entry-point') return undefined
        const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: SKIP })
        if (r.errors.length > 0 || r.external) return r.errors.length > 0 ? { errors: r.errors } : { path: r.path, external: true }
        let real: string
        try {
          real = realpathSync(r.path)
        } catch {
          return { path: r.path }
        }
        const specifier = covenantSpecifier(real)
        return specifier ? { path: specifier, external: true } : { path: r.path }
      })
    },
  }
}

let root: string | undefined
function realRoot(): string {
  // the package root whether this runs from src/ (a checkout) or dist/src/ (the build)
  root ??= realpathSync(packageRoot())
  return root
}

