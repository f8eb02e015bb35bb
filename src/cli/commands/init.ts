import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import type { Command } from 'commander'
import { packageJsonOf } from '../../packageRoot.js'
import { CONFIG_FILES } from '../config.js'
import { EnvError } from '../errors.js'
import { projectFiles } from '../init/templates.js'
import { printResult, type GlobalOptions } from '../output.js'

/** A folder name made into an npm package name and an agent name. */
function namesFor(dir: string): { packageName: string; agentName: string } {
  const base = basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64)
  const name = /^[a-z0-9]/.test(base) ? base : 'my-agent'
  return { packageName: name, agentName: name }
}

/**
 * `covenant init [dir]`: a new project — package.json (covenant, viem, zod; scripts dev,
 * deploy, typecheck), covenant.config.json (covenant.config.ts with --config-ts), a strict tsconfig.json, the one-line .npmrc that
 * keeps onnxruntime-node's install offline, .gitignore, and agent.ts (runs on `covenant dev` as
 * it is). Writes nothing if any of those files already exists.
 */
export function register(program: Command): void {
  program
    .command('init')
    .argument('[dir]', 'the project folder (default: the current one)', '.')
    .option('--config-ts', 'write the config as covenant.config.ts (typed with defineConfig) instead of covenant.config.json')
    .description('scaffold a project: an agent, covenant.config.json (or .ts), package.json with scripts, tsconfig.json')
    .action((dir: string, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { configTs?: boolean }>()
      const root = resolve(dir)
      const pkg = packageJsonOf()
      const range = (name: string) => pkg.dependencies[name] ?? pkg.devDependencies[name] ?? 'latest'
      const files = projectFiles({
        ...namesFor(root),
        configTs: o.configTs === true,
        versions: { covenant: pkg.version, viem: range('viem'), zod: range('zod'), typescript: range('typescript'), typesNode: range('@types/node') },
      })
      // any config file counts: a second one beside it would make the folder's config ambiguous
      const taken = [...new Set([...Object.keys(files), ...CONFIG_FILES])].filter((f) => existsSync(join(root, f)))
      if (taken.length > 0) {
        throw new EnvError(`${root} already has ${taken.join(', ')}; init writes nothing over existing files.`, {
          metaMessages: ['Run it in an empty folder: covenant init <new-folder>.'],
        })
      }
      mkdirSync(root, { recursive: true })
      for (const [f, text] of Object.entries(files)) writeFileSync(join(root, f), text, { flag: 'wx' })
      const next = [...(dir === '.' ? [] : [`cd ${dir}`]), 'npm install', 'npm run dev        # in one terminal', 'npm run deploy     # in another']
      printResult({ dir: root, files: Object.keys(files), next }, o, (r) => [`created ${r.files.join(', ')} in ${r.dir}`, '', 'next:', ...r.next.map((l) => `  ${l}`)].join('\n'))
    })
}
