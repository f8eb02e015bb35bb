import { isAddressEqual, type Hex } from 'viem'
import { requireWallet, type CovenantClient } from '../client.js'
import { getAgent } from '../actions/getAgent.js'
import { chainTime } from '../devTime.js'
import { BaseError } from '../../errors/base.js'
import { requireErc8004 } from './deployment.js'
import {
  agentWalletTypedData,
  COVENANT_METADATA_KEY,
  encodeCovenantMetadata,
  findCovenantIdentity,
  getIdentity,
  registerIdentity,
  setAgentURI,
  setAgentWallet,
} from './identity.js'
import { registrationDataURI, registrationFile } from './registrationFile.js'

export type RegisterCovenantIdentityParameters = {
  /** The Covenant agent (AgentRegistry id); the client's account must be its owner. */
  agentId: bigint
  name: string
  description: string
  manifestHash: Hex
  manifestCommitment: Hex
  /** The identity an earlier, interrupted run minted, if it noted it. @defaultValue looked up on chain */
  erc8004AgentId?: bigint | undefined
  /** Called before each transaction (a deploy notes the owner's nonce). */
  beforeSend?: (() => Promise<void>) | undefined
  /** Called once the identity is minted, before anything else is sent. */
  onRegistered?: ((erc8004AgentId: bigint) => Promise<void>) | undefined
}

export type RegisterCovenantIdentityReturnType = {
  erc8004AgentId: bigint
  agentURI: string
  /** The transactions this call sent (none: everything was in place already). */
  sent: Array<'register' | 'setAgentURI' | 'setAgentWallet'>
  gasUsed: bigint
}

export class IdentityOwnerError extends BaseError {
  override name = 'IdentityOwnerError' as const
}

/**
 * Gives a Covenant agent its ERC-8004 identity, idempotently: mints one (unless the owner
 * has one for this agent already) with the `covenant` metadata naming the agent, points its
 * agentURI at the agent's registration file (a base64 `data:` URI: name, the manifest on
 * DA, the agent and its account), and makes the agent's AgentAccount its agentWallet,
 * proving control with the owner's EIP-712 signature, which the account accepts through
 * ERC-1271. Each of the three transactions is sent only if its effect is not there yet.
 */
export async function registerCovenantIdentity(client: CovenantClient, p: RegisterCovenantIdentityParameters): Promise<RegisterCovenantIdentityReturnType> {
  const c = requireWallet(client, 'registerCovenantIdentity')
  const erc = requireErc8004(c)
  const owner = c.walletClient.account.address
  const agent = await getAgent(c, p.agentId)
  if (!isAddressEqual(agent.owner, owner)) {
    throw new IdentityOwnerError(`Only agent #${p.agentId}'s owner ${agent.owner} can give it an ERC-8004 identity (the account used is ${owner}).`)
  }
  const sent: RegisterCovenantIdentityReturnType['sent'] = []
  let gasUsed = 0n
  const before = async () => p.beforeSend?.()

  let id = p.erc8004AgentId ?? (await findCovenantIdentity(c, { owner, agentId: p.agentId }))
  if (id === undefined) {
    await before()
    const r = await registerIdentity(c, { agentURI: '', metadata: [{ key: COVENANT_METADATA_KEY, value: encodeCovenantMetadata(c.deployment.contracts.agentRegistry, p.agentId) }] })
    id = r.agentId
    gasUsed += r.gasUsed
    sent.push('register')
    await p.onRegistered?.(id)
  }

  const agentURI = registrationDataURI(
    registrationFile({
      name: p.name,
      description: p.description,
      chainId: c.deployment.chainId,
      identityRegistry: erc.identityRegistry,
      erc8004AgentId: id,
      covenant: { agentRegistry: c.deployment.contracts.agentRegistry, agentId: p.agentId, account: agent.account, manifestHash: p.manifestHash, manifestCommitment: p.manifestCommitment },
    }),
  )
  const identity = await getIdentity(c, id)
  if (identity.agentURI !== agentURI) {
    await before()
    gasUsed += (await setAgentURI(c, { agentId: id, agentURI })).gasUsed
    sent.push('setAgentURI')
  }
  if (!isAddressEqual(identity.wallet, agent.account)) {
    // the registry takes a deadline at most five minutes ahead of the block that includes it
    const deadline = BigInt((await chainTime(c.publicClient)) + 240)
    const signature = await c.walletClient.signTypedData({
      account: c.walletClient.account,
      ...agentWalletTypedData({ chainId: c.deployment.chainId, identityRegistry: erc.identityRegistry, agentId: id, newWallet: agent.account, owner, deadline }),
    })
    await before()
    gasUsed += (await setAgentWallet(c, { agentId: id, wallet: agent.account, deadline, signature })).gasUsed
    sent.push('setAgentWallet')
  }
  return { erc8004AgentId: id, agentURI, sent, gasUsed }
}
