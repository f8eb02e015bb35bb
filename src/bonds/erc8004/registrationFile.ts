import { getAddress, type Address, type Hex } from 'viem'
import { z } from 'zod'
import { InvalidRegistrationFileError } from './errors.js'
import { daURI } from './uris.js'

/** The `type` of an ERC-8004 registration file. */
export const REGISTRATION_TYPE = 'https://eips.ethereum.org/EIPS/eip-8004#registration-v1'
const DATA_URI_PREFIX = 'data:application/json;base64,'

export type RegistrationFileParameters = {
  name: string
  description: string
  chainId: number
  identityRegistry: Address
  /** The agent's ERC-8004 id, once registered (the file's `registrations`). */
  erc8004AgentId: bigint
  covenant: {
    agentRegistry: Address
    agentId: bigint
    /** The AgentAccount: the agent's funds, and its agentWallet. */
    account: Address
    manifestHash: Hex
    manifestCommitment: Hex
  }
}

/**
 * The agent's ERC-8004 registration file (the document its agentURI resolves to): name and
 * description for ERC-721 apps, and as services the Covenant manifest on DA (with the
 * keccak256 registered on chain), the Covenant agent and its account. `supportedTrust`
 * says `crypto-economic`: bonded, disputable, validated by staked verifiers.
 */
export function registrationFile(p: RegistrationFileParameters) {
  const chain = `eip155:${p.chainId}`
  return {
    type: REGISTRATION_TYPE,
    name: p.name,
    description: p.description,
    image: '',
    services: [
      { name: 'covenant-manifest', endpoint: daURI(p.covenant.manifestCommitment), version: '1', manifestHash: p.covenant.manifestHash.toLowerCase() },
      { name: 'covenant-agent', endpoint: `${chain}:${getAddress(p.covenant.agentRegistry)}`, agentId: p.covenant.agentId.toString() },
      { name: 'agentWallet', endpoint: `${chain}:${getAddress(p.covenant.account)}` },
    ],
    x402Support: false,
    active: true,
    registrations: [{ agentId: Number(p.erc8004AgentId), agentRegistry: `${chain}:${getAddress(p.identityRegistry)}` }],
    supportedTrust: ['crypto-economic'],
  }
}
export type RegistrationFile = ReturnType<typeof registrationFile>

/** The file as the standard's on-chain form: `data:application/json;base64,<JSON>`. */
export function registrationDataURI(file: RegistrationFile): string {
  return `${DATA_URI_PREFIX}${Buffer.from(JSON.stringify(file), 'utf8').toString('base64')}`
}

const serviceSchema = z.looseObject({ name: z.string(), endpoint: z.string() })
const fileSchema = z.looseObject({
  type: z.literal(REGISTRATION_TYPE),
  name: z.string(),
  description: z.string(),
  image: z.string().optional(),
  services: z.array(serviceSchema).optional(),
  endpoints: z.array(serviceSchema).optional(),
  registrations: z.array(z.looseObject({ agentId: z.union([z.number(), z.string()]), agentRegistry: z.string() })).optional(),
  supportedTrust: z.array(z.string()).optional(),
})
export type ParsedRegistrationFile = z.output<typeof fileSchema>

/** Reads a registration file from a base64 `data:` agentURI; any other URI, or a file that is not one, throws. */
export function readRegistrationDataURI(uri: string): ParsedRegistrationFile {
  if (typeof uri !== 'string' || !uri.startsWith(DATA_URI_PREFIX)) {
    throw new InvalidRegistrationFileError('The agentURI is not a base64 JSON data: URI.', { details: uri.slice(0, 80) })
  }
  let raw: unknown
  try {
    raw = JSON.parse(Buffer.from(uri.slice(DATA_URI_PREFIX.length), 'base64').toString('utf8'))
  } catch (cause) {
    throw new InvalidRegistrationFileError('The agentURI does not hold JSON.', { cause })
  }
  const parsed = fileSchema.safeParse(raw)
  if (!parsed.success) throw new InvalidRegistrationFileError('The agentURI does not hold an ERC-8004 registration file.', { details: z.prettifyError(parsed.error) })
  return parsed.data
}
