import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ATTACKER, runDemo } from '../../src/cli/demo/runDemo.js'

describe('npm run demo', () => {
  it("tells the whole story: the chain refuses the cheating operator's payment, it is slashed for each lie, the honest agent is not", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'covenant-demo-'))
    const demo = await runDemo({ dataDir })
    try {
      const { summary } = demo
      const treasury = summary.agents.find((a) => a.name === 'treasury')!
      const moderation = summary.agents.find((a) => a.name === 'moderation')!
      // 10 ETH bond: the forged inference record takes half (5), the tool call the registered
      // code would not make on that record half of the rest (2.5); the owner tops it up to 10,
      // and the untraced account call takes half (5). The payment to the attacker never
      // happened (the account refused it)
      expect(treasury).toMatchObject({ bondBefore: '10', toppedUp: '7.5', bondAfter: '5', honestActionsVerified: 2, actions: 3 })
      expect(moderation).toMatchObject({ bondBefore: '2', toppedUp: '0', bondAfter: '2', honestActionsVerified: 3, actions: 3 })
      const kinds = summary.disputes.map((d) => `${d.kind}:${d.status}:${d.agentId}`).sort()
      expect(kinds).toEqual([`InferenceFraud:Slashed:${treasury.agentId}`, `TraceMismatch:Slashed:${treasury.agentId}`, `UntracedAction:Slashed:${treasury.agentId}`])
      const crafted = summary.tasks.find((t) => t.note.startsWith('a crafted invoice'))!
      expect(crafted).toMatchObject({ status: 'failed', txHashes: [] })
      expect(await demo.stack.client.publicClient.getBalance({ address: ATTACKER })).toBe(0n)
      expect(summary.tasks.filter((t) => t !== crafted).every((t) => t.status === 'completed')).toBe(true)
      const page = await fetch(summary.explorerUrl)
      expect(await page.text()).toContain('Covenant explorer')
    } finally {
      await demo.stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
    // three quorum disputes and a proof, each action replayed in the verifiers' sandboxes
  }, 180_000)
})
