// A Covenant agent using an MCP server's tools, end to end: the SDK's McpServer and Client
// over the SDK's in-memory transport, the shipped ONNX classifier, a real trace WAL, and the
// verifier's whole-action replay — which takes the MCP result from the trace and never calls
// the server again.
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createAgentRuntime, defineAgent } from '../agent/index.js'
import { createModerationClassifier } from '../inference/index.js'
import { TraceWal, type Step } from '../trace/index.js'
import { replayAction } from '../verify/actionReplay/replayAction.js'
import { mcpTools } from './index.js'

const notices: Array<{ postId: string; notice: string }> = []
let client: Client
let server: McpServer

beforeAll(async () => {
  server = new McpServer({ name: 'board', version: '1.0.0' })
  server.registerTool(
    'post_notice',
    { description: 'Posts a moderation notice on the board.', inputSchema: { postId: z.string().describe('the post'), notice: z.enum(['keep', 'remove']).describe('the notice') } },
    async ({ postId, notice }) => {
      if (postId === 'locked') return { content: [{ type: 'text', text: 'the board is locked' }], isError: true }
      notices.push({ postId, notice })
      return { content: [{ type: 'text', text: `notice #${notices.length} posted for ${postId}: ${notice}` }] }
    },
  )
  server.registerTool('pay_bounty', { description: 'Pays a bounty from the board operator wallet.', inputSchema: { to: z.string().describe('recipient') } }, async () => ({
    content: [{ type: 'text', text: 'paid' }],
  }))
  const [a, b] = InMemoryTransport.createLinkedPair()
  await server.connect(a)
  client = new Client({ name: 'covenant-test', version: '1.0.0' })
  await client.connect(b)
})
afterAll(async () => {
  await client?.close()
  await server?.close()
})

describe('mcpTools', () => {
  it('needs an explicit effect for every tool, and refuses money-moving effects', async () => {
    await expect(mcpTools(client, { effects: { post_notice: 'write' } })).rejects.toThrow(/tool "pay_bounty" has no effect: say 'read' or 'write'/)
    const pay = await mcpTools(client, { effects: { post_notice: 'write', pay_bounty: { kind: 'pay' } as never } }).catch((e: Error) => e)
    expect(pay).toMatchObject({ name: 'McpToolsError' })
    expect((pay as Error).message).toContain("an MCP tool cannot move the agent's funds")
    await expect(mcpTools(client, { effects: { post_notice: 'write', nope: 'read' } as never, include: ['post_notice'] })).rejects.toThrow(/effects names "nope"/)
    const tools = await mcpTools(client, { effects: { post_notice: 'write' }, include: ['post_notice'] })
    expect(tools.map((t) => [t.name, t.effect])).toEqual([['post_notice', { kind: 'none' }]])
    expect(tools[0]!.parameters).toMatchObject({ type: 'object', required: ['postId', 'notice'] })
  })

  it('an agent calls an MCP tool: traced as a tool step, and replayed from the trace without calling the server again', async () => {
    const tools = await mcpTools(client, { effects: { post_notice: 'write' }, include: ['post_notice'] })
    const agent = defineAgent({
      name: 'board-moderator',
      instructions: 'Classify each post and post a keep/remove notice on the board.',
      model: {
        kind: 'onnx',
        model: 'moderation',
        input: (task) => (task as { text: string }).text,
        decide: (output, task) => [{ name: 'post_notice', args: { postId: (task as { postId: string }).postId, notice: (output as { label: string }).label === 'ok' ? 'keep' : 'remove' } }],
      },
      tools,
      policy: { maxValuePerTx: 0n, challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [] },
      bond: {},
    })
    const wal = await TraceWal.open({ dir: await mkdtemp(join(tmpdir(), 'covenant-mcp-')), agentId: '7' })
    const runtime = createAgentRuntime({ agent, agentId: '7', policyVersion: 1, wal, onnx: await createModerationClassifier(), logger: pino({ level: 'silent' }) })
    const before = notices.length
    const r = await runtime.run({ postId: 'p1', text: 'Congratulations! You won a free iPhone, send your bank password to claim' })
    expect(notices.slice(before)).toEqual([{ postId: 'p1', notice: 'remove' }])
    const steps = (await wal.readAll()).steps.filter((s) => s.actionId === r.actionId)
    expect(steps.map((s) => (s.kind === 'tool' ? `tool:${s.tool}` : s.kind))).toEqual(['input', 'inference', 'tool:post_notice', 'output'])
    const tool = steps[2] as Step & { kind: 'tool' }
    expect(tool.args).toEqual({ postId: 'p1', notice: 'remove' })
    expect(tool.outcome).toEqual({ status: 'ok', result: `notice #${before + 1} posted for p1: remove` })

    // the server's error is the tool step's error; the run carries on
    const locked = await runtime.run({ postId: 'locked', text: 'hello neighbours, the bake sale is on Sunday' })
    const lockedTool = (await wal.readAll()).steps.find((s) => s.actionId === locked.actionId && s.kind === 'tool') as Step & { kind: 'tool' }
    expect(lockedTool.outcome).toMatchObject({ status: 'error', error: { name: 'McpToolCallError', message: expect.stringContaining('the board is locked') } })

    // the verifier's replay runs the agent's code on the recorded steps: the board is not asked again
    const calls = notices.length
    expect(await replayAction({ agent, agentId: '7', actionId: r.actionId, steps })).toMatchObject({ status: 'match' })
    expect(notices.length).toBe(calls)
    // a trace whose recorded call is not the one the agent's code makes is a mismatch at that step
    const forged = steps.map((s) => (s.kind === 'tool' ? { ...s, args: { postId: 'p1', notice: 'keep' } } : s)) as Step[]
    expect(await replayAction({ agent, agentId: '7', actionId: r.actionId, steps: forged })).toMatchObject({ status: 'mismatch', position: 2 })
    await wal.close()
  })
})
