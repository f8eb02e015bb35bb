// The files `covenant init` writes: a project with one agent that runs on `covenant dev` as it
// is (the shipped ONNX moderation model, no LLM, no payments), a config file, and scripts.

export type InitParameters = {
  /** The npm package name of the project. */
  packageName: string
  /** The agent's name (agentNameSchema). */
  agentName: string
  /** Covenant's version, and the ranges of the packages the agent file imports. */
  versions: { covenant: string; viem: string; zod: string; typescript: string; typesNode: string }
}

export function packageJson(p: InitParameters): string {
  const doc = {
    name: p.packageName,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      dev: 'covenant dev',
      deploy: 'covenant deploy',
      typecheck: 'tsc --noEmit',
    },
    dependencies: { covenant: `^${p.versions.covenant}`, viem: p.versions.viem, zod: p.versions.zod },
    devDependencies: { '@types/node': p.versions.typesNode, typescript: p.versions.typescript },
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}

const CONFIG = { agent: 'agent.ts', dataDir: '.covenant', logLevel: 'info' } as const

export function config(): string {
  return `${JSON.stringify(CONFIG, null, 2)}\n`
}

/** The same config as a typed module (`covenant init --config-ts`). */
export function configTs(): string {
  return [
    "import { defineConfig } from 'covenant/config'",
    '',
    '// Defaults for the covenant command in this folder (flags and environment variables win).',
    '// Paths are relative to this file. Fields: agent, dataDir, rpc, deployment, da, redis, keystore, logLevel.',
    'export default defineConfig({',
    ...Object.entries(CONFIG).map(([k, v]) => `  ${k}: ${JSON.stringify(v).replaceAll('"', "'")},`),
    '})',
    '',
  ].join('\n')
}

export function tsconfig(): string {
  const doc = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      verbatimModuleSyntax: true,
      skipLibCheck: true,
      noEmit: true,
    },
    include: ['**/*.ts'],
    exclude: ['node_modules', '.covenant'],
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}

/** onnxruntime-node's install script otherwise downloads CUDA files on Linux x64 (see Covenant's README, Install). */
export function npmrc(): string {
  return 'onnxruntime-node-install=skip\n'
}

export function gitignore(): string {
  return 'node_modules/\n.covenant/\n'
}

export function agent(p: InitParameters): string {
  return `/**
 * ${p.agentName} — classifies posts with Covenant's shipped ONNX moderation model and publishes a
 * decision for each. Every step is written to the agent's trace, committed to DA and
 * replayable by anyone who holds the model digest; the agent's bond answers for it.
 *
 *   npm run dev        local chain, DA server and inference container (leave it running)
 *   npm run deploy     type-check this file, register the agent, post its bond, serve it
 */
import { parseEther } from 'viem'
import { z } from 'zod'
import { defineAgent, defineTool } from 'covenant/agent'

const post = z.object({ postId: z.string().min(1).max(64), text: z.string().min(1).max(4000) })
type Label = 'ok' | 'spam' | 'abuse' | 'scam'
const REMOVE: ReadonlySet<Label> = new Set(['spam', 'abuse', 'scam'])

const publishDecision = defineTool({
  name: 'publish_decision',
  description: 'Publish the moderation decision for a post: keep it up or take it down.',
  schema: z.object({
    postId: z.string().min(1).max(64).describe('the id of the post'),
    label: z.enum(['ok', 'spam', 'abuse', 'scam']).describe('the label the classifier gave'),
    action: z.enum(['keep', 'remove']).describe('what happens to the post'),
  }),
  effect: { kind: 'none' }, // it moves no money
  invoke: ({ postId, label, action }) => ({ postId, label, action }),
})

export default defineAgent({
  name: '${p.agentName}',
  instructions: 'Classify each post with the moderation model and publish keep/remove for it.',
  model: {
    kind: 'onnx',
    model: 'moderation',
    input: (task) => post.parse(task).text,
    decide: (output, task) => {
      const label = (output as { label: Label }).label
      return [{ name: 'publish_decision', args: { postId: post.parse(task).postId, label, action: REMOVE.has(label) ? 'remove' : 'keep' } }]
    },
  },
  tools: [publishDecision],
  policy: { maxValuePerTx: 0n, challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [] },
  bond: { eth: parseEther('2') },
  replay: { mode: 'exact' },
})
`
}

/** Every file, by path relative to the project folder. */
export function projectFiles(p: InitParameters & { configTs?: boolean | undefined }): Record<string, string> {
  return {
    'package.json': packageJson(p),
    ...(p.configTs ? { 'covenant.config.ts': configTs() } : { 'covenant.config.json': config() }),
    'tsconfig.json': tsconfig(),
    '.npmrc': npmrc(),
    '.gitignore': gitignore(),
    'agent.ts': agent(p),
  }
}
