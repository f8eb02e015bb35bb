import { decodeErrorResult, decodeFunctionData, encodeFunctionData, parseAbi, type Address, type Hex } from 'viem'
import { decodeAuthorizationData, encodeAuthorizationData } from './authorization.js'

/**
 * The part of contracts/src/AgentAccount.sol the wallet speaks. Written out here because the
 * wallet sits upstream of `bonds` (which holds the generated ABIs);
 * `test/integration/generated.test.ts` checks every entry against the compiled contract.
 */
export const agentAccountCallAbi = parseAbi([
  'function execute(address to, uint256 value, bytes data, uint64 stepIndex, bytes32 prevHash, uint32 policyVersion, uint64 nonce) returns (bytes32 leaf, bytes result)',
  'struct TransferAuthorization { address token; address to; uint256 value; uint256 validAfter; uint256 validBefore; bytes32 nonce; }',
  'struct PermitAuthorization { address token; address spender; uint256 value; uint256 nonce; uint256 deadline; }',
  'struct StepPlace { uint64 stepIndex; bytes32 prevHash; uint32 policyVersion; uint64 nonce; }',
  'function authorizeTransfer(TransferAuthorization a, StepPlace place) returns (bytes32 leaf, bytes32 digest)',
  'function authorizePermit(PermitAuthorization p, StepPlace place) returns (bytes32 leaf, bytes32 digest)',
  'function authorizedUntil(bytes32 digest) view returns (uint256)',
  'function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)',
  'event Authorized(uint32 indexed sequence, bytes32 indexed digest, address indexed token, uint256 validUntil)',
  'error AuthorizationWindow(uint256 validUntil, uint256 latest)',
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
 * account, value 0 — or, when the step's data has a token authorization's shape (see
 * authorization.ts), `authorizeTransfer` / `authorizePermit` with the same place, which
 * records the same leaf. Everything in it comes from the wallet step (whose `from` is the
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
  const auth = c.value === 0n ? decodeAuthorizationData(c.to, c.data) : undefined
  if (auth) {
    const place = { stepIndex: BigInt(c.stepIndex), prevHash: c.prevHash, policyVersion: c.policyVersion, nonce: BigInt(c.nonce) }
    return auth.kind === 'transfer'
      ? encodeFunctionData({ abi: agentAccountCallAbi, functionName: 'authorizeTransfer', args: [auth.authorization, place] })
      : encodeFunctionData({ abi: agentAccountCallAbi, functionName: 'authorizePermit', args: [auth.authorization, place] })
  }
  return encodeFunctionData({
    abi: agentAccountCallAbi,
    functionName: 'execute',
    args: [c.to, c.value, c.data, BigInt(c.stepIndex), c.prevHash, c.policyVersion, BigInt(c.nonce)],
  })
}

/**
 * The account call a transaction to the account makes. An authorization's step data names the
 * account, so decoding `authorizeTransfer` / `authorizePermit` needs `account` (the
 * transaction's `to`); without it they decode to `undefined`.
 */
export function decodeAccountCall(data: Hex, account?: Address): AccountCall | undefined {
  try {
    const d = decodeFunctionData({ abi: agentAccountCallAbi, data })
    if (d.functionName === 'authorizeTransfer' || d.functionName === 'authorizePermit') {
      if (!account) return undefined
      const [auth, place] = d.args
      const step =
        d.functionName === 'authorizeTransfer'
          ? encodeAuthorizationData(account, { kind: 'transfer', authorization: { ...(auth as TransferArgs), nonce: (auth as TransferArgs).nonce.toLowerCase() as Hex } })
          : encodeAuthorizationData(account, { kind: 'permit', authorization: auth as PermitArgs })
      return { to: auth.token, value: 0n, data: step, stepIndex: Number(place.stepIndex), prevHash: place.prevHash, policyVersion: place.policyVersion, nonce: Number(place.nonce) }
    }
    if (d.functionName !== 'execute') return undefined
    const [to, value, inner, stepIndex, prevHash, policyVersion, nonce] = d.args
    return { to, value, data: inner, stepIndex: Number(stepIndex), prevHash, policyVersion, nonce: Number(nonce) }
  } catch {
    return undefined
  }
}

type TransferArgs = { token: Address; to: Address; value: bigint; validAfter: bigint; validBefore: bigint; nonce: Hex }
type PermitArgs = { token: Address; spender: Address; value: bigint; nonce: bigint; deadline: bigint }

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
