import type { Address, Hash, Hex } from 'viem'
import { validationRegistryAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'
import { requireErc8004 } from './deployment.js'
import { requestHashOf, validationRequestURI } from './uris.js'

export type RequestValidationParameters = {
  /** The ERC-8004 agent id (IdentityRegistry), whose owner or operator the client's account is. */
  agentId: bigint
  actionId: string
  validator: Address
}

/**
 * `ValidationRegistry.validationRequest` for a Covenant action: requestURI
 * `covenant:action/<actionId>?validator=<address>`, requestHash its keccak256.
 */
export async function requestValidation(
  client: CovenantClient,
  p: RequestValidationParameters,
): Promise<{ requestHash: Hex; requestURI: string; hash: Hash; gasUsed: bigint }> {
  const c = requireWallet(client, 'requestValidation')
  const requestURI = validationRequestURI(p.actionId, p.validator)
  const requestHash = requestHashOf(requestURI)
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'ValidationRegistry',
    address: requireErc8004(c).validationRegistry,
    abi: validationRegistryAbi,
    functionName: 'validationRequest',
    args: [p.validator, p.agentId, requestURI, requestHash],
  })
  return { requestHash, requestURI, hash, gasUsed: receipt.gasUsed }
}

export type RespondToValidationParameters = {
  requestHash: Hex
  /** 0 (failed) … 100 (passed). */
  response: number
  responseURI: string
  responseHash?: Hex | undefined
  tag: string
}

/** `ValidationRegistry.validationResponse`, from the requested validator. */
export async function respondToValidation(client: CovenantClient, p: RespondToValidationParameters): Promise<{ hash: Hash; gasUsed: bigint }> {
  const c = requireWallet(client, 'respondToValidation')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'ValidationRegistry',
    address: requireErc8004(c).validationRegistry,
    abi: validationRegistryAbi,
    functionName: 'validationResponse',
    args: [p.requestHash, p.response, p.responseURI, p.responseHash ?? `0x${'0'.repeat(64)}`, p.tag],
  })
  return { hash, gasUsed: receipt.gasUsed }
}

export type ValidationView = {
  requestHash: Hex
  validator: Address
  agentId: bigint
  requestURI: string | undefined
  requestedAt: { block: bigint; tx: Hash } | undefined
  /** The latest response (none yet: undefined). */
  response: { response: number; tag: string; responseHash: Hex; responseURI: string | undefined; lastUpdate: number } | undefined
  /** Every response, oldest first (the registry stores only the latest; its events keep them all). */
  history: Array<{ response: number; tag: string; responseURI: string; block: bigint; tx: Hash }>
}

/** A validation request and its responses: `getValidationStatus`, plus the URIs from its events. Throws for an unknown hash. */
export async function getValidation(client: CovenantClient, requestHash: Hex): Promise<ValidationView> {
  const { validationRegistry } = requireErc8004(client)
  const pc = client.publicClient
  const [validator, agentId, response, responseHash, tag, lastUpdate] = await pc.readContract({
    address: validationRegistry,
    abi: validationRegistryAbi,
    functionName: 'getValidationStatus',
    args: [requestHash],
  })
  const range = { address: validationRegistry, abi: validationRegistryAbi, fromBlock: client.deployment.deployedAtBlock, toBlock: 'latest' } as const
  const [requests, responses] = await Promise.all([
    pc.getContractEvents({ ...range, eventName: 'ValidationRequest', args: { requestHash } }),
    pc.getContractEvents({ ...range, eventName: 'ValidationResponse', args: { requestHash } }),
  ])
  const request = requests[0]
  const history = responses.map((l) => ({
    response: l.args.response ?? 0,
    tag: l.args.tag ?? '',
    responseURI: l.args.responseURI ?? '',
    block: l.blockNumber,
    tx: l.transactionHash,
  }))
  const last = history.at(-1)
  return {
    requestHash,
    validator,
    agentId,
    requestURI: request?.args.requestURI,
    requestedAt: request ? { block: request.blockNumber, tx: request.transactionHash } : undefined,
    response: last ? { response, tag, responseHash, responseURI: last.responseURI, lastUpdate: Number(lastUpdate) } : undefined,
    history,
  }
}
