import { createWalletClient, http, keccak256, toBytes, type Address, type Hash } from 'viem'
import { chainFor } from '../../bonds/client.js'
import { agentAccountAbi } from '../../bonds/generated/abis.js'
import type { LocalStack } from '../../service/stack.js'
import type { AgentRecord } from '../../service/agentRecord.js'
import { openAgentKey } from '../../service/deployAgent.js'

/**
 * The demo's second cheat: the operator takes the agent's signer key and calls the account
 * directly, around the runtime and its write-ahead log — a payment with no trace step. The
 * account lets it through (the vendor is on the allowlist, under the cap), but records its
 * leaf and the time by which a committed batch must cover it; none ever will.
 */
export async function sendUntracedAccountCall(p: {
  stack: LocalStack
  record: AgentRecord
  account: Address
  password: string
  to: Address
  value: bigint
  policyVersion: number
}): Promise<Hash> {
  const signer = await openAgentKey(p.record.wallet.keystore, p.password)
  const wallet = createWalletClient({ account: signer, chain: chainFor(p.stack.rpcUrl, p.stack.anvil.chainId), transport: http(p.stack.rpcUrl) })
  const hash = await wallet.writeContract({
    address: p.account,
    abi: agentAccountAbi,
    functionName: 'execute',
    // a step index and prevHash that no WAL holds
    args: [p.to, p.value, '0x', 2n ** 40n, keccak256(toBytes('no such step')), p.policyVersion, 0n],
    chain: wallet.chain,
  })
  const receipt = await p.stack.client.publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new Error(`the untraced account call reverted (${hash})`)
  return hash
}
