import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { z } from 'zod'
import type { Address } from 'viem'
import { DeploymentFileError } from './errors.js'
import { erc8004DeploymentSchema } from './erc8004/deployment.js'

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte address') as unknown as z.ZodType<Address>
const uint = z.union([z.bigint(), z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform((v) => BigInt(v))

/** Protocol parameters fixed at deployment. Times in seconds, shares in basis points. */
export const protocolParamsSchema = z.object({
  disputePeriod: z.number().int().positive().describe('voting time of a quorum dispute'),
  unbondingDelay: z.number().int().positive().describe('time between a withdrawal request and the withdrawal'),
  minPolicyDelay: z.number().int().nonnegative().describe('shortest delay before a policy change takes effect'),
  verifierMinStake: uint,
  verifierExitDelay: z.number().int().positive(),
  challengerBps: z.number().int().min(0).max(10_000),
  redistributionBps: z.number().int().min(0).max(10_000),
  challengerBond: uint,
  subjectiveBond: uint,
  slashBps: z.number().int().min(1).max(10_000),
  quorumBps: z.number().int().min(5_001).max(10_000),
})
export type ProtocolParams = z.output<typeof protocolParamsSchema>
export type ProtocolParamsInput = z.input<typeof protocolParamsSchema>

export const defaultProtocolParams: ProtocolParams = {
  disputePeriod: 3_600,
  unbondingDelay: 7 * 86_400,
  minPolicyDelay: 60,
  verifierMinStake: 10n ** 18n,
  verifierExitDelay: 2 * 86_400,
  challengerBps: 5_000,
  redistributionBps: 3_000,
  challengerBond: 10n ** 17n,
  subjectiveBond: 5n * 10n ** 17n,
  slashBps: 5_000,
  quorumBps: 6_667,
}

export const deploymentSchema = z.object({
  chainId: z.number().int().positive(),
  deployedAtBlock: uint,
  deployer: address,
  redistribution: address,
  contracts: z.object({
    agentRegistry: address,
    bondVault: address,
    traceLog: address,
    verifierRegistry: address,
    disputeGame: address,
    bondToken: address,
  }),
  params: protocolParamsSchema,
  /** The ERC-8004 registries (deployErc8004); absent in deployment files made before them. */
  erc8004: erc8004DeploymentSchema.optional(),
})
export type CovenantDeployment = z.output<typeof deploymentSchema>

export function serializeDeployment(d: CovenantDeployment): string {
  return JSON.stringify(d, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)
}

export function parseDeployment(json: string, source = 'deployment'): CovenantDeployment {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch (cause) {
    throw new DeploymentFileError(`${source} is not valid JSON.`, { cause })
  }
  const parsed = deploymentSchema.safeParse(raw)
  if (!parsed.success) {
    throw new DeploymentFileError(`${source} is not a Covenant deployment.`, {
      details: z.prettifyError(parsed.error),
      metaMessages: ['Deploy again (`covenant deploy` or `covenant demo`) or point --deployment at the right file.'],
    })
  }
  return parsed.data
}

export function readDeployment(path: string): CovenantDeployment {
  let json: string
  try {
    json = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new DeploymentFileError(`Cannot read the deployment file ${path}.`, { cause })
  }
  return parseDeployment(json, path)
}

export function writeDeployment(path: string, d: CovenantDeployment): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, serializeDeployment(d))
}
