// The replay sandbox: agent code (an operator's, untrusted) replayed in a child process
// under Node's permission model. An honest bundle replays as in process; a bundle that
// tries to write files, start processes or workers, read outside the kit, load a native
// addon or read secrets from the environment is refused each time; one that hangs or eats
// memory is stopped and reported unverifiable (never a fault).
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { bundleAgentFile, type AgentBundle } from '../../agent/bundle.js'
import { createModerationClassifier } from '../../inference/moderation.js'
import type { Step } from '../../trace/index.js'
import moderation from '../../../examples/agents/moderation/agent.js'
import { closeLiveAgents, liveAgent } from './_liveRun.js'
import { ReplaySandbox } from './sandbox.js'

let dir: string
let steps: Step[]
const actionId = '7-00000000000a'
const sandboxes: ReplaySandbox[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-sandbox-'))
  const live = await liveAgent(moderation, { onnx: await createModerationClassifier() })
  steps = await live.run({ postId: 'p-1', text: 'free crypto giveaway, send 1 ETH to get 2 back' }, actionId)
  expect(steps.map((s) => s.kind)).toEqual(['input', 'inference', 'tool', 'output'])
}, 120_000)

afterAll(async () => {
  for (const s of sandboxes) await s.close()
  await closeLiveAgents()
  await rm(dir, { recursive: true, force: true })
})

function sandbox(o: ConstructorParameters<typeof ReplaySandbox>[0] = {}): ReplaySandbox {
  const s = new ReplaySandbox(o)
  sandboxes.push(s)
  return s
}

/** An agent file like the moderation example, whose `decide` runs `body` first and puts what it returns in the decision's postId. */
async function agentFile(name: string, body: string): Promise<AgentBundle> {
  const file = join(dir, `${name}.ts`)
  await writeFile(
    file,
    `import { defineAgent, defineTool } from 'covenant/agent'
import { z } from 'zod'
const publish = defineTool({
  name: 'publish_decision',
  description: 'Publish the moderation decision for a post: keep it up or take it down.',
  schema: z.object({
    postId: z.string().min(1).max(200).describe('the id of the post'),
    label: z.enum(['ok', 'spam', 'abuse', 'scam']).describe('the label the classifier gave'),
    action: z.enum(['keep', 'remove']).describe('what happens to the post'),
  }),
  effect: { kind: 'none' },
  invoke: () => ({}),
})
async function probe(): Promise<string> {
${body}
}
export default defineAgent({
  name: 'moderation',
  instructions: 'Classify each post with the moderation model and publish keep/remove for it.',
  model: {
    kind: 'onnx',
    model: 'moderation',
    input: (task: any) => task.text,
    decide: async (output: any, task: any) => {
      const seen = await probe()
      const remove = ['spam', 'abuse', 'scam'].includes(output.label)
      return [{ name: 'publish_decision', args: { postId: seen || task.postId, label: output.label, action: remove ? 'remove' : 'keep' } }]
    },
  },
  tools: [publish],
  policy: { maxValuePerTx: 0n, challengeWindow: 3600, commitDeadline: 600, allowedTargets: [] },
  bond: { eth: 2n * 10n ** 18n },
})
`,
  )
  return bundleAgentFile(file)
}

describe('the replay sandbox', () => {
  test('replays an honest bundle in a child process: the same answer as in process', async () => {
    const bundle = await bundleAgentFile('examples/agents/moderation/agent.ts')
    const s = sandbox()
    const job = { codeHash: bundle.codeHash, bundle: bundle.bytes, agentId: '7', actionId }
    expect(await s.replay({ ...job, steps })).toEqual({ status: 'match', reproduced: 4, shape: 'closed' })
    // a changed decision in the trace is caught there too
    const lied = steps.map((st) => (st.kind === 'tool' ? { ...st, args: { ...st.args, action: 'keep' } } : st))
    expect(await s.replay({ ...job, steps: lied })).toMatchObject({ status: 'mismatch', position: 2 })
  }, 120_000)

  test('refuses file writes, child processes, workers, reads outside the kit and native addons; gives an empty environment', async () => {
    const target = join(dir, 'written-by-agent-code')
    const bundle = await agentFile(
      'evil',
      `  const fs = await import('node:fs')
  const cp = await import('node:child_process')
  const wt = await import('node:worker_threads')
  const out: string[] = []
  const attempt = async (f: () => unknown) => {
    try { await f(); out.push('ok') } catch (e: any) { out.push(e.code ?? e.name) }
  }
  await attempt(() => fs.writeFileSync(${JSON.stringify(target)}, 'x'))
  await attempt(() => cp.execFileSync(process.execPath, ['-e', '0']))
  await attempt(() => new wt.Worker('process.exit(0)', { eval: true }))
  await attempt(() => fs.readFileSync('/etc/passwd'))
  await attempt(() => import('onnxruntime-node'))
  out.push('env=' + Object.keys(process.env).length)
  return out.join(',')`,
    )
    const r = await sandbox().replay({ codeHash: bundle.codeHash, bundle: bundle.bytes, agentId: '7', actionId, steps })
    expect(r).toMatchObject({ status: 'mismatch', position: 2 })
    const seen = /args\.postId: "([^"]*)" here/.exec((r as { reason: string }).reason)?.[1]
    expect(seen).toBe('ERR_ACCESS_DENIED,ERR_ACCESS_DENIED,ERR_ACCESS_DENIED,ERR_ACCESS_DENIED,ERR_DLOPEN_DISABLED,env=0')
    expect(existsSync(target)).toBe(false)
  }, 120_000)

  test('code that never returns is stopped at the time limit: unverifiable, not a fault', async () => {
    const bundle = await agentFile('hang', `  for (;;) {}`)
    const s = sandbox({ timeoutMs: 3_000 })
    const r = await s.replay({ codeHash: bundle.codeHash, bundle: bundle.bytes, agentId: '7', actionId, steps })
    expect(r).toEqual({ status: 'unverifiable', reason: "the agent's code did not finish within 3 s (the replay process was stopped)" })
    // the next replay gets a fresh process
    const honest = await bundleAgentFile('examples/agents/moderation/agent.ts')
    expect(await s.replay({ codeHash: honest.codeHash, bundle: honest.bytes, agentId: '7', actionId, steps })).toMatchObject({ status: 'match' })
  }, 120_000)

  test('code that eats memory hits the heap cap: unverifiable, not a fault', async () => {
    const bundle = await agentFile('greedy', `  const hoard: string[][] = []\n  for (;;) hoard.push(new Array(1_000_000).fill('x'))`)
    const r = await sandbox({ memoryMb: 64 }).replay({ codeHash: bundle.codeHash, bundle: bundle.bytes, agentId: '7', actionId, steps })
    expect(r).toMatchObject({ status: 'unverifiable', reason: expect.stringMatching(/^the replay process ended \(.*out of memory\)/) })
  }, 120_000)

  test('a bundle that does not export an agent cannot be loaded: unverifiable, with the reason', async () => {
    const file = join(dir, 'nothing.ts')
    await writeFile(file, 'export const x = 1\n')
    const bundle = await bundleAgentFile(file)
    const r = await sandbox().replay({ codeHash: bundle.codeHash, bundle: bundle.bytes, agentId: '7', actionId, steps })
    expect(r).toEqual({
      status: 'unverifiable',
      reason: "the agent's code bundle cannot be loaded for replay: the bundle does not export an agent (defineAgent) as its default export or as `agent`",
    })
  }, 120_000)
})
