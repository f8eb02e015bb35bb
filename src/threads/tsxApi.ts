import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

/**
 * The ES module entries of tsx's ESM and CommonJS APIs, so a worker thread can import
 * TypeScript modules of either module kind: a worker does not inherit the loader hooks this
 * process registered at run time (tsx's, or vite's under vitest). Empty when tsx is not
 * installed: the thread's modules must then be JavaScript.
 */
export function tsxApiUrls(): string[] {
  const require = createRequire(import.meta.url)
  try {
    return ['tsx/esm/api', 'tsx/cjs/api'].map((api) => pathToFileURL(require.resolve(api).replace(/index\.cjs$/, 'index.mjs')).href)
  } catch {
    return []
  }
}
