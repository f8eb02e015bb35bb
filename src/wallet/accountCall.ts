import { decodeErrorResult, decodeFunctionData, encodeFunctionData, parseAbi, type Address, type Hex } from 'viem'

/**
 * The part of contracts/src/AgentAccount.sol the wallet speaks. Written out here because the
 * wallet sits upstream of `bonds` (which holds the generated ABIs);
 * `test/integration/generated.test.ts` checks every entry against the compiled contract.
 */
export const agentAccountCallAbi = parseAbi([
  'function execute(address to, uint256 value, bytes data, uint64 stepIndex, bytes32 prevHash, uint32 policyVersion, uint64 nonce) returns (bytes32 leaf, bytes result)',
  'error NotSigner(address caller)',
  'error PolicyViolation(uint8 breach)',
  'error StalePolicyVersion(uint32 cited, uint32 inForce)',
  'error DailyBudgetExceeded(uint256 spent, uint256 value, uint256 budget)',
  'error TraceBehind(uint32 oldestUncovered, uint64 coverBy)',
  'error Unbonding(uint256 agentId)',
  'error BondTooLow(uint256 bondEth, uint256 requiredBond)',
  'error CallFailed(bytes returnData)',
])

/**
 * The transaction that makes one agent-account call: the signer key sends
 * `AgentAccount.execute(to, value, data, stepIndex, prevHash, policyVersion, nonce)` to the
 * account, value 0. Everything in it comes from the wallet step (whose `from` is the
 * account), so recovery after a crash rebuilds exactly the bytes the step authorised, and
 * the account recomputes the step's leaf from the same arguments.
 */
export type AccountCall = {
  to: Address
  value: bigint
  data: Hex
  stepIndex: number
  prevHash: Hex
  policyVersion: number
  /** The signer's transaction nonce, as the wallet step records it. */
  nonce: number
}

export function encodeAccountCall(c: AccountCall): Hex {
  return encodeFunctionData({
    abi: agentAccountCallAbi,
    functionName: 'execute',
    args: [c.to, c.value, c.data, BigInt(c.stepIndex), c.prevHash, c.policyVersion, BigInt(c.nonce)],
  })
}

export function decodeAccountCall(data: Hex): AccountCall | undefined {
  try {
    const d = decodeFunctionData({ abi: agentAccountCallAbi, data })
    if (d.functionName !== 'execute') return undefined
    const [to, value, inner, stepIndex, prevHash, policyVersion, nonce] = d.args
    return { to, value, data: inner, stepIndex: Number(stepIndex), prevHash, policyVersion, nonce: Number(nonce) }
  } catch {
    return undefined
  }
}

/** The AgentAccount custom error inside a failed estimate or call, if that is what it is. */
export function accountRevert(err: unknown): { errorName: string; args: readonly unknown[] } | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const data = (e as { data?: unknown }).data
    const hex = typeof data === 'string' ? data : typeof (data as { data?: unknown })?.data === 'string' ? (data as { data: string }).data : undefined
    if (hex && /^0x[0-9a-fA-F]{8,}$/.test(hex)) {
      try {
        const r = decodeErrorResult({ abi: agentAccountCallAbi, data: hex as Hex })
        return { errorName: r.errorName, args: (r.args ?? []) as readonly unknown[] }
      } catch {}
    }
  }
  return undefined
}
