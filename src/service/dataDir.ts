import { isAbsolute, relative, resolve, sep } from 'node:path'
import { PathOutsideDataDirError } from './errors.js'

/**
 * `<dataDir>/<parts…>`, proven to stay strictly inside the data dir: parts that would
 * leave it (`..`, `a/../../b`, an absolute path) or name the data dir itself throw
 * {@link PathOutsideDataDirError} before anything reaches the disk. Every path the service
 * derives from a name goes through here, whatever checked the name before.
 */
export function pathInDataDir(dataDir: string, ...parts: string[]): string {
  const root = resolve(dataDir)
  const path = resolve(root, ...parts)
  const rel = relative(root, path)
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new PathOutsideDataDirError({ dataDir: root, parts })
  return path
}
