import type { Command } from 'commander'
import { getAddress, isAddress, type Address, type Hex } from 'viem'
import {
  getDispute,
  getIdentity,
  getValidation,
  parseDisputeURI,
  readRegistrationDataURI,
  requestValidation,
  requireErc8004,
  VALIDATION_TAGS,
  validationRegistryAbi,
  verifierRegistryAbi,
  type CovenantClient,
  type ValidationView,
} from '../../bonds/index.js'
import { EnvError, parseAgentId, resolveEnv, withEnvOptions, type EnvOptions } from '../env.js'
import { printResult, type GlobalOptions } from '../output.js'

type Flags = GlobalOptions & EnvOptions & { validator?: string }

/**
 * `covenant 8004 request|status|agent`: ERC-8004 validations of Covenant actions through the
 * standard's registries. `request` asks a validator (a Covenant verifier) to validate an
 * action of an ERC-8004 agent you own; `status` reads a request and every response to it;
 * `agent` reads an identity, the Covenant agent it is verifiably linked to, and its
 * validations. Reads use the standard's views only.
 */
export function register(program: Command): void {
  const erc = program.command('8004').description('ERC-8004 "Trustless Agents": agent identities and bond-backed validations of Covenant actions')

  withEnvOptions(
    erc
      .command('request')
      .argument('<agentId>', 'the ERC-8004 agent id (IdentityRegistry) whose owner or operator you are')
      .argument('<actionId>', 'the Covenant action to validate')
      .option('--validator <address>', 'the verifier to ask (default: the only registered verifier)')
      .description('ask a Covenant verifier to validate an action (ValidationRegistry.validationRequest); it answers on chain'),
  ).action(async (agentIdText: string, actionId: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<Flags>()
    const agentId = parseAgentId(agentIdText, '<agentId>')
    const env = await resolveEnv(flags)
    if (!env.account) throw new EnvError('A validation request sends a transaction: pass --keystore (with COVENANT_PASSWORD) or --dev-account.')
    requireErc8004(env.client)
    const identity = await identityOrExplain(env.client, agentId)
    if (identity.covenantAgentId === undefined) {
      throw new EnvError(`ERC-8004 agent ${agentId}'s agentWallet (${identity.wallet}) is not a Covenant AgentAccount: a Covenant verifier would refuse the request.`)
    }
    const validator = flags.validator !== undefined ? addressFlag(flags.validator) : await onlyVerifier(env.client)
    const r = await requestValidation(env.client, { agentId, actionId, validator })
    printResult({ agentId, covenantAgentId: identity.covenantAgentId, actionId, validator, requestURI: r.requestURI, requestHash: r.requestHash, hash: r.hash }, flags, (x) =>
      [
        `asked ${x.validator} to validate action ${x.actionId} of ERC-8004 agent ${x.agentId} (Covenant agent #${x.covenantAgentId})`,
        `  request ${x.requestHash}`,
        `  follow it: covenant 8004 status ${x.requestHash}`,
      ].join('\n'),
    )
  })

  withEnvOptions(
    erc.command('status').argument('<requestHash>', 'the request hash (0x + 64 hex)').description('a validation request and its responses (ValidationRegistry.getValidationStatus and its events)'),
  ).action(async (hashText: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<Flags>()
    if (!/^0x[0-9a-fA-F]{64}$/.test(hashText)) throw new EnvError(`<requestHash> must be 0x and 64 hex digits (got "${hashText.slice(0, 80)}").`)
    const requestHash = hashText.toLowerCase() as Hex
    const env = await resolveEnv(flags)
    const v = await getValidation(env.client, requestHash).catch((err: unknown) => {
      if (/UnknownRequest/.test(String((err as { message?: string }).message))) throw new EnvError(`No validation request ${requestHash} on this deployment's ValidationRegistry.`)
      throw err
    })
    const dispute = await disputeNamed(env.client, v)
    printResult({ ...v, dispute }, flags, (x) => statusText(x))
  })

  withEnvOptions(
    erc.command('agent').argument('<agentId>', 'the ERC-8004 agent id').description('an ERC-8004 identity: owner, registration file, agentWallet and the Covenant agent it links to, validations'),
  ).action(async (agentIdText: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<Flags>()
    const agentId = parseAgentId(agentIdText, '<agentId>')
    const env = await resolveEnv(flags)
    const { validationRegistry } = requireErc8004(env.client)
    const identity = await identityOrExplain(env.client, agentId)
    const pc = env.client.publicClient
    const at = { address: validationRegistry, abi: validationRegistryAbi } as const
    const [hashes, all, final] = await Promise.all([
      pc.readContract({ ...at, functionName: 'getAgentValidations', args: [agentId] }),
      pc.readContract({ ...at, functionName: 'getSummary', args: [agentId, [], ''] }),
      pc.readContract({ ...at, functionName: 'getSummary', args: [agentId, [], VALIDATION_TAGS.final] }),
    ])
    const validations = await Promise.all(hashes.map((h) => getValidation(env.client, h)))
    let registration: { name: string; description: string; services: Array<{ name: string; endpoint: string }> } | undefined
    try {
      const f = readRegistrationDataURI(identity.agentURI)
      registration = { name: f.name, description: f.description, services: (f.services ?? f.endpoints ?? []).map((s) => ({ name: s.name, endpoint: s.endpoint })) }
    } catch {
      registration = undefined
    }
    const result = {
      ...identity,
      registration,
      summary: { all: { count: all[0], average: all[1] }, final: { count: final[0], average: final[1] } },
      validations: validations.map((v) => ({ requestHash: v.requestHash, validator: v.validator, requestURI: v.requestURI, response: v.response ?? null })),
    }
    printResult(result, flags, (r) =>
      [
        `ERC-8004 agent ${r.agentId}  owner ${r.owner}`,
        `  agentURI: ${r.registration ? `registration file "${r.registration.name}" (on chain, ${r.agentURI.length} characters)` : r.agentURI || '(none)'}`,
        ...(r.registration?.services ?? []).map((s) => `    ${s.name}: ${s.endpoint}`),
        `  agentWallet: ${r.wallet}${r.covenantAgentId !== undefined ? ` = the AgentAccount of Covenant agent #${r.covenantAgentId}` : ' (not a Covenant AgentAccount: Covenant verifiers do not answer for it)'}`,
        ...(r.claims && r.claims.agentId !== r.covenantAgentId ? [`  its metadata claims Covenant agent #${r.claims.agentId} on ${r.claims.agentRegistry}, which its agentWallet does not prove`] : []),
        `  validations: ${r.validations.length} requested, ${r.summary.all.count} answered (average ${r.summary.all.average}); ${r.summary.final.count} final (average ${r.summary.final.average})`,
        ...r.validations.map((v) => `    ${v.requestHash.slice(0, 18)}… ${v.requestURI ?? '?'}: ${v.response ? `${v.response.response} (${v.response.tag})` : 'no response yet'}`),
      ].join('\n'),
    )
  })
}

function addressFlag(value: string): Address {
  if (!isAddress(value, { strict: false })) throw new EnvError(`--validator must be an address, 0x and 40 hex digits (got "${value.slice(0, 60)}").`)
  return getAddress(value)
}

/** The identity, or a one-line EnvError when no agent has this id. */
async function identityOrExplain(client: CovenantClient, agentId: bigint) {
  try {
    return await getIdentity(client, agentId)
  } catch (err) {
    if (/ERC721NonexistentToken/.test(String((err as { message?: string }).message))) throw new EnvError(`No ERC-8004 agent ${agentId} on this deployment's IdentityRegistry.`)
    throw err
  }
}

/** The validator when none is named: the one verifier registered and not leaving. */
async function onlyVerifier(client: CovenantClient): Promise<Address> {
  const registry = { address: client.deployment.contracts.verifierRegistry, abi: verifierRegistryAbi } as const
  const all = await client.publicClient.readContract({ ...registry, functionName: 'verifiers' })
  const active: Address[] = []
  for (const v of all) {
    const s = await client.publicClient.readContract({ ...registry, functionName: 'verifier', args: [v] })
    if (s.stake > 0n && s.exitRequestedAt === 0n) active.push(v)
  }
  if (active.length === 1) return active[0]!
  throw new EnvError(
    active.length === 0
      ? 'No verifier is registered on this deployment: pass --validator <address>.'
      : `${active.length} verifiers are registered: say which with --validator (${active.join(', ')}).`,
  )
}

async function disputeNamed(client: CovenantClient, v: ValidationView) {
  const id = v.response?.responseURI ? parseDisputeURI(v.response.responseURI) : undefined
  if (id === undefined) return null
  const d = await getDispute(client, id)
  return { disputeId: id, kind: d.kind, status: d.status, agentId: d.agentId, slashedEth: d.slashedEth }
}

function statusText(x: ValidationView & { dispute: Awaited<ReturnType<typeof disputeNamed>> }): string {
  const lines = [`request ${x.requestHash}: ERC-8004 agent ${x.agentId} asked ${x.validator}`, `  asks: ${x.requestURI ?? '(request event not found)'}`]
  if (!x.response) lines.push('  no response yet')
  else {
    lines.push(`  response: ${x.response.response} (${x.response.tag || 'no tag'}) ${x.response.responseURI ?? ''}, updated ${new Date(x.response.lastUpdate * 1000).toISOString()}`)
    if (x.dispute) lines.push(`  dispute #${x.dispute.disputeId}: ${x.dispute.kind} against Covenant agent #${x.dispute.agentId}, ${x.dispute.status}`)
    lines.push(`  history: ${x.history.map((h) => `${h.response} ${h.tag} (block ${h.block})`).join('; ')}`)
  }
  return lines.join('\n')
}
