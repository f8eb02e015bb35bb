import { bytesToHex, encodeAbiParameters, keccak256, type Hex } from 'viem'
import { randomBytes } from 'node:crypto'
import { disputeGameAbi } from '../generated/abis.js'
import type { CovenantWriteClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'

/**
 * Commit-reveal against front-running: a challenge is accepted only when the same account
 * committed keccak256(abi.encode(challenger, evidenceHash, salt)) in an earlier block.
 * Returns the salt to reveal with.
 */
export async function commitEvidence(client: CovenantWriteClient, evidenceHash: Hex): Promise<{ salt: Hex; gasUsed: bigint }> {
  const salt = bytesToHex(randomBytes(32))
  const commitment = keccak256(
    encodeAbiParameters([{ type: 'address' }, { type: 'bytes32' }, { type: 'bytes32' }], [client.walletClient.account.address, evidenceHash, salt]),
  )
  const { receipt } = await writeAndWait(client, {
    contract: 'DisputeGame',
    address: client.deployment.contracts.disputeGame,
    abi: disputeGameAbi,
    functionName: 'commitEvidence',
    args: [commitment],
  })
  await nextBlock(client, receipt.blockNumber)
  return { salt, gasUsed: receipt.gasUsed }
}

/** Waits until the chain is past `block`; on an automining dev chain, mines one. */
async function nextBlock(client: CovenantWriteClient, block: bigint): Promise<void> {
  const pc = client.publicClient
  for (let i = 0; ; i++) {
    const now = await pc.getBlockNumber({ cacheTime: 0 })
    if (now > block) return
    if (i === 0 && client.deployment.chainId === 31337) {
      // anvil with automine only makes blocks for transactions
      await pc.request({ method: 'evm_mine' as never, params: [] as never }).catch(() => {})
      continue
    }
    await new Promise((r) => setTimeout(r, 250))
  }
}
