import { decodeAbiParameters, encodeAbiParameters, isAddressEqual, zeroAddress, type Address, type Hash, type Hex } from 'viem'
import { agentAccountAbi, agentRegistryAbi, identityRegistryAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import { requireErc8004 } from './deployment.js'

/** The on-chain metadata key naming the Covenant agent an identity claims to be (README "Identity"). */
export const COVENANT_METADATA_KEY = 'covenant'

/** `abi.encode(address agentRegistry, uint256 agentId)`: the value under {@link COVENANT_METADATA_KEY}. */
export function encodeCovenantMetadata(agentRegistry: Address, agentId: bigint): Hex {
  return encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [agentRegistry, agentId])
}

export function decodeCovenantMetadata(value: Hex): { agentRegistry: Address; agentId: bigint } | undefined {
  if (value.length !== 2 + 128) return undefined
  try {
    const [agentRegistry, agentId] = decodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], value)
    return { agentRegistry, agentId }
  } catch {
    return undefined
  }
}

export type RegisterIdentityParameters = {
  /** The agentURI; empty to set it later (setAgentURI). */
  agentURI: string
  metadata?: ReadonlyArray<{ key: string; value: Hex }> | undefined
}

/** `IdentityRegistry.register(agentURI, metadata)`: mints the next ERC-8004 agent id to the caller. */
export async function registerIdentity(client: CovenantClient, p: RegisterIdentityParameters): Promise<{ agentId: bigint; hash: Hash; gasUsed: bigint }> {
  const c = requireWallet(client, 'registerIdentity')
  const { identityRegistry } = requireErc8004(c)
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'IdentityRegistry',
    address: identityRegistry,
    abi: identityRegistryAbi,
    functionName: 'register',
    args: [p.agentURI, (p.metadata ?? []).map((m) => ({ metadataKey: m.key, metadataValue: m.value }))],
  })
  const ev = eventsOf(identityRegistryAbi, receipt).find((e) => e.eventName === 'Registered')
  if (!ev || ev.eventName !== 'Registered') throw new Error('Registered event missing from receipt')
  return { agentId: ev.args.agentId, hash, gasUsed: receipt.gasUsed }
}

/** `IdentityRegistry.setAgentURI`: the owner (or an approved operator) points the identity at a new registration file. */
export async function setAgentURI(client: CovenantClient, p: { agentId: bigint; agentURI: string }): Promise<{ hash: Hash; gasUsed: bigint }> {
  const c = requireWallet(client, 'setAgentURI')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'IdentityRegistry',
    address: requireErc8004(c).identityRegistry,
    abi: identityRegistryAbi,
    functionName: 'setAgentURI',
    args: [p.agentId, p.agentURI],
  })
  return { hash, gasUsed: receipt.gasUsed }
}

/** The EIP-712 typed data a new agentWallet signs (ERC-8004 `setAgentWallet`; domain `ERC8004IdentityRegistry` v1). */
export function agentWalletTypedData(p: { chainId: number; identityRegistry: Address; agentId: bigint; newWallet: Address; owner: Address; deadline: bigint }) {
  return {
    domain: { name: 'ERC8004IdentityRegistry', version: '1', chainId: p.chainId, verifyingContract: p.identityRegistry },
    types: {
      AgentWalletSet: [
        { name: 'agentId', type: 'uint256' },
        { name: 'newWallet', type: 'address' },
        { name: 'owner', type: 'address' },
        { name: 'deadline', type: 'uint256' },
      ],
    },
    primaryType: 'AgentWalletSet',
    message: { agentId: p.agentId, newWallet: p.newWallet, owner: p.owner, deadline: p.deadline },
  } as const
}

/** `IdentityRegistry.setAgentWallet` with the wallet's signature of {@link agentWalletTypedData}. */
export async function setAgentWallet(
  client: CovenantClient,
  p: { agentId: bigint; wallet: Address; deadline: bigint; signature: Hex },
): Promise<{ hash: Hash; gasUsed: bigint }> {
  const c = requireWallet(client, 'setAgentWallet')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'IdentityRegistry',
    address: requireErc8004(c).identityRegistry,
    abi: identityRegistryAbi,
    functionName: 'setAgentWallet',
    args: [p.agentId, p.wallet, p.deadline, p.signature],
  })
  return { hash, gasUsed: receipt.gasUsed }
}

export type AgentIdentity = {
  agentId: bigint
  owner: Address
  agentURI: string
  /** The verified agentWallet (zero when unset). */
  wallet: Address
  /** What the identity's `covenant` metadata claims (anyone can write any claim). */
  claims: { agentRegistry: Address; agentId: bigint } | undefined
  /**
   * The Covenant agent whose AgentAccount is this identity's agentWallet, on this
   * deployment: the link only the agent's owner can make (the account answers ERC-1271
   * for its owner alone), so the one Covenant trusts. Undefined when there is none.
   */
  covenantAgentId: bigint | undefined
}

/** Reads an ERC-8004 identity and the Covenant agent it is verifiably linked to. Throws for an id not minted. */
export async function getIdentity(client: CovenantClient, agentId: bigint): Promise<AgentIdentity> {
  const { identityRegistry } = requireErc8004(client)
  const pc = client.publicClient
  const at = { address: identityRegistry, abi: identityRegistryAbi } as const
  const [owner, agentURI, wallet, meta] = await Promise.all([
    pc.readContract({ ...at, functionName: 'ownerOf', args: [agentId] }),
    pc.readContract({ ...at, functionName: 'tokenURI', args: [agentId] }),
    pc.readContract({ ...at, functionName: 'getAgentWallet', args: [agentId] }),
    pc.readContract({ ...at, functionName: 'getMetadata', args: [agentId, COVENANT_METADATA_KEY] }),
  ])
  return {
    agentId,
    owner,
    agentURI,
    wallet,
    claims: decodeCovenantMetadata(meta),
    covenantAgentId: await covenantAgentOfWallet(client, wallet),
  }
}

/**
 * The Covenant agent whose AgentAccount `wallet` is, on this deployment, or undefined: the
 * account names its agent, and the registry must name the same account back (a contract
 * that only claims an agent id is not an account).
 */
export async function covenantAgentOfWallet(client: CovenantClient, wallet: Address): Promise<bigint | undefined> {
  if (isAddressEqual(wallet, zeroAddress)) return undefined
  const pc = client.publicClient
  const code = await pc.getCode({ address: wallet })
  if (!code || code === '0x') return undefined
  let covenantId: bigint
  try {
    covenantId = await pc.readContract({ address: wallet, abi: agentAccountAbi, functionName: 'agentId' })
  } catch {
    return undefined
  }
  try {
    const account = await pc.readContract({ address: client.deployment.contracts.agentRegistry, abi: agentRegistryAbi, functionName: 'accountOf', args: [covenantId] })
    return isAddressEqual(account, wallet) ? covenantId : undefined
  } catch {
    return undefined
  }
}

/**
 * The ERC-8004 identity `owner` registered for Covenant agent `agentId` (its `covenant`
 * metadata names the agent, and `owner` still owns it), or undefined: how a resumed deploy
 * finds the identity an interrupted run minted instead of minting a second one.
 */
export async function findCovenantIdentity(client: CovenantClient, p: { owner: Address; agentId: bigint }): Promise<bigint | undefined> {
  const { identityRegistry } = requireErc8004(client)
  const pc = client.publicClient
  const logs = await pc.getContractEvents({
    address: identityRegistry,
    abi: identityRegistryAbi,
    eventName: 'Registered',
    args: { owner: p.owner },
    fromBlock: client.deployment.deployedAtBlock,
    toBlock: 'latest',
  })
  for (const l of logs) {
    const id = l.args.agentId
    if (id === undefined) continue
    const [meta, owner] = await Promise.all([
      pc.readContract({ address: identityRegistry, abi: identityRegistryAbi, functionName: 'getMetadata', args: [id, COVENANT_METADATA_KEY] }),
      pc.readContract({ address: identityRegistry, abi: identityRegistryAbi, functionName: 'ownerOf', args: [id] }),
    ])
    const claim = decodeCovenantMetadata(meta)
    if (claim && claim.agentId === p.agentId && isAddressEqual(claim.agentRegistry, client.deployment.contracts.agentRegistry) && isAddressEqual(owner, p.owner)) return id
  }
  return undefined
}
