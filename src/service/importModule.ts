import { pathToFileURL } from 'node:url'

const TYPESCRIPT = /\.[cm]?tsx?$/
/** What Node says when it cannot load a TypeScript file by itself (no loader, or type stripping that cannot cope). */
const NO_TYPESCRIPT_LOADER = new Set([
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_MODULE_NOT_FOUND',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_INVALID_TYPESCRIPT_SYNTAX',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
])

let tsx: Promise<void> | undefined

/**
 * `import()` of a user's module by path. A process started through tsx, or under vitest,
 * loads TypeScript itself; the built CLI and a plain `node` script do not, and there a
 * TypeScript file is loaded through tsx (a dependency), registered once on first need. The
 * failed first attempt ran none of the file's code (Node refuses before it evaluates).
 */
export async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href
  const typescript = TYPESCRIPT.test(file)
  if (!(typescript && tsx)) {
    try {
      return (await import(url)) as Record<string, unknown>
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code
      if (!typescript || typeof code !== 'string' || !NO_TYPESCRIPT_LOADER.has(code)) throw err
    }
    tsx ??= import('tsx/esm/api').then(({ register }) => {
      register()
    })
  }
  await tsx
  // Node remembers a failed import under its URL for good: TypeScript loaded through tsx is
  // always asked for under another one (the same each time, so a second load is the same module)
  return (await import(`${url}?tsx`)) as Record<string, unknown>
}
