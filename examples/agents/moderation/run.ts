/**
 * The moderation example, end to end: `npm run example:moderation` (add `-- --json` for the summary).
 *
 * The moderation agent classifies posts with the shipped ONNX classifier (models/moderation)
 * and publishes keep/remove for each; it needs no LLM, so every decision is exactly
 * replayable by anyone holding the model. Its operator has been bribed by a scammer: for
 * the scammer's post it publishes `ok` / keep and forges the recorded model output to match
 * (a custom `decide` plus `unsafe.tamperInference`). The trace is committed like any other;
 * the verifiers replay every inference, find that the recorded input does not give the
 * recorded output, open an InferenceFraud dispute and vote — and the bond pays.
 */
import type { Address, Hex } from 'viem'
import { listDisputes } from '../../../src/bonds/index.js'
import { shippedModelStore } from '../../../src/inference/index.js'
import { isMain, runCli, table } from '../_shared/cli.js'
import {
  actionIdFor,
  bondOf,
  deployOperator,
  disputeFigures,
  eth,
  ethCredits,
  Example,
  hostOperator,
  settledDispute,
  startVerifiers,
  verdicts,
  type DisputeFigures,
  type ExampleOptions,
} from '../_shared/harness.js'
import moderation, { type Post } from './agent.js'
import { bribedOperator } from './bribed.js'

export type ExamplePost = Post & { note: string }

export const POSTS: readonly ExamplePost[] = [
  { postId: 'p-101', text: 'Lovely turnout at the community garden today, thanks everyone!', note: 'a friendly post' },
  { postId: 'p-102', text: 'Congratulations! You won a free iPhone, click here and send your bank password to claim it', note: 'a phishing scam' },
  { postId: 'p-103', text: 'BUY CHEAP FOLLOWERS NOW!!! best prices, limited offer, click the link', note: 'spam' },
  { postId: 'p-104', text: 'You are a worthless idiot and everyone hates you', note: 'abuse' },
  { postId: 'p-105', text: 'Double your ETH! Send 1 ETH to our wallet and get 2 ETH back instantly, guaranteed', note: "the briber's scam" },
]

/** The post the operator was paid to keep up. */
export const BRIBED_POST = 'p-105'

export type ModerationPostResult = {
  postId: string
  note: string
  actionId: string
  /** What the shipped classifier says (anyone can rerun it). */
  modelLabel: string
  modelScore: number
  /** What the agent published, and what its trace claims the model said. */
  publishedLabel: string
  action: 'keep' | 'remove'
  recordedLabel: string
  verdict: string
}

export type ModerationSummary = {
  example: 'moderation'
  seconds: number
  rpcUrl: string
  agentId: string
  modelDigest: Hex
  posts: ModerationPostResult[]
  bondBeforeWei: string
  bondAfterWei: string
  verifiers: Address[]
  disputes: DisputeFigures[]
  /** The verifier that opened the InferenceFraud dispute: its bond back plus its reward, as BondVault credit. */
  challenger: { address: Address; creditWei: string } | null
}

export async function runModerationExample(o: ExampleOptions = {}): Promise<ModerationSummary> {
  const started = Date.now()
  const say = o.onProgress ?? (() => {})
  say('[1/5] starting a local chain and the DA server (the classifier runs in-process on ONNX Runtime)')
  const ex = await Example.start('moderation', { ...o, inference: false })
  try {
    say('[2/5] deploying the moderation agent: manifest on DA, model digest + policy + a 2 ETH bond on chain')
    const op = await deployOperator(ex, { label: 'operator', agent: moderation, source: 'examples/agents/moderation/agent.ts', ownerIndex: 1 })
    const bondBefore = await bondOf(ex, op.agentId)

    say('[3/5] three verifiers stake and follow the chain, replaying every inference on the registered model')
    const nodes = await startVerifiers(ex, [op])

    say(`[4/5] the operator moderates ${POSTS.length} posts — it was BRIBED to keep ${BRIBED_POST} up (custom decide + unsafe.tamperInference)`)
    const cheat = await bribedOperator(POSTS.filter((p) => p.postId === BRIBED_POST))
    const host = await hostOperator(ex, op, { agent: cheat.agent, unsafe: { tamperInference: cheat.tamperInference } })
    const posts: ModerationPostResult[] = []
    for (const post of POSTS) {
      ex.checkpoint()
      const actionId = actionIdFor(op.agentId, post.postId)
      await host.run({ postId: post.postId, text: post.text }, actionId)
      const steps = (await host.action(actionId)).steps
      const tool = steps.find((s) => s.kind === 'tool')
      const inference = steps.find((s) => s.kind === 'inference')
      const args = (tool?.kind === 'tool' ? tool.args : {}) as { label?: string; action?: 'keep' | 'remove' }
      const said = cheat.modelSaid.get(post.postId) ?? { label: '?', score: 0 }
      const r: ModerationPostResult = {
        postId: post.postId,
        note: post.note,
        actionId,
        modelLabel: said.label,
        modelScore: said.score,
        publishedLabel: args.label ?? '?',
        action: args.action ?? 'keep',
        recordedLabel: inference?.kind === 'inference' ? recordedLabel(inference.record.response) : '?',
        verdict: 'pending',
      }
      posts.push(r)
      const lie = r.publishedLabel !== r.modelLabel
      say(
        `      ${post.postId} (${post.note}): model says ${r.modelLabel} (${r.modelScore.toFixed(3)}) → published ${r.publishedLabel}, ${r.action}` +
          (lie ? `  ← LIE: the trace records the model saying '${r.recordedLabel}'` : ''),
      )
    }
    await host.flush()
    say('      all steps committed: DA blob + Merkle root on chain')

    say('[5/5] the verifiers replay the committed inferences; the forged record does not replay')
    await settledDispute(ex, op.agentId, 'InferenceFraud')
    const reports = await verdicts(ex, [op], posts.map((p) => p.actionId))
    for (const p of posts) p.verdict = reports.get(p.actionId)?.verdict ?? 'unknown'
    say(`      covenant verify: ${posts.map((p) => `${p.postId} ${p.verdict}`).join(', ')}`)

    const disputes = await listDisputes(ex.stack.client)
    const fraud = disputes.find((d) => d.kind === 'InferenceFraud')
    return {
      example: 'moderation',
      seconds: (Date.now() - started) / 1000,
      rpcUrl: ex.stack.rpcUrl,
      agentId: op.agentId.toString(),
      modelDigest: shippedModelStore().find('moderation')!.digest as Hex,
      posts,
      bondBeforeWei: bondBefore.toString(),
      bondAfterWei: (await bondOf(ex, op.agentId)).toString(),
      verifiers: nodes.map((n) => n.address as Address),
      disputes: await Promise.all(disputes.map((d) => disputeFigures(ex, d))),
      challenger: fraud ? { address: fraud.challenger, creditWei: (await ethCredits(ex, fraud.challenger)).toString() } : null,
    }
  } finally {
    await ex.close()
  }
}

/** The label a moderation record's logits give (what the trace claims the model said). */
function recordedLabel(response: unknown, labels: readonly string[] = ['ok', 'spam', 'abuse', 'scam']): string {
  const t = (response as { outputs?: Array<{ name: string; data: string }> }).outputs?.find((o) => o.name === 'logits')
  if (!t) return '?'
  const b = Buffer.from(t.data, 'base64')
  const logits = Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4))
  return labels[logits.indexOf(Math.max(...logits))] ?? '?'
}

export function renderModeration(s: ModerationSummary): string {
  const fraud = s.disputes.find((d) => d.kind === 'InferenceFraud')
  return [
    `moderation example — ${s.seconds.toFixed(1)} s`,
    table([
      ...s.posts.map((p) => [p.postId, `model ${p.modelLabel} · published ${p.publishedLabel} (${p.action}) · verify: ${p.verdict}`] as const),
      ['bond', `${eth(s.bondBeforeWei)} → ${eth(s.bondAfterWei)} ETH`],
      ['inference fraud', fraud ? `dispute #${fraud.disputeId} ${fraud.status} (stake for/against ${eth(fraud.forStake)}/${eth(fraud.againstStake)} ETH): ${eth(fraud.slashedWei)} ETH slashed` : 'none'],
      ['  challenger', fraud ? `${fraud.challenger}: ${eth(fraud.challengerRewardWei)} ETH reward + ${eth(fraud.challengerBondWei)} ETH bond back (credit now ${eth(s.challenger?.creditWei ?? '0')} ETH)` : '-'],
      ['  redistribution', fraud ? `${eth(fraud.redistributionWei)} ETH` : '-'],
      ['  burned', fraud ? `${eth(fraud.burnedWei)} ETH` : '-'],
    ]),
  ].join('\n')
}

export const usage = `npm run example:moderation [-- --json] [-- --data-dir DIR]

Runs the moderation example on a local chain: a bribed operator keeps a scam post up and
forges the classifier's recorded output; the verifiers' replay catches it and the bond is
slashed. --json prints the summary as JSON on stdout (progress on stderr).
Data: .covenant/examples/moderation unless --data-dir is given (reset on every run).`

if (isMain(import.meta.url)) {
  await runCli({ name: 'moderation', usage, run: runModerationExample, render: renderModeration })
}
