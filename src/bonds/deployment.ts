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
  verifierMinStake: uint.describe('smallest verifier stake, in WorkToken (CVW) wei'),
  verifierExitDelay: z.number().int().positive().describe('time between a verifier asking to leave and its stake leaving'),
  challengerBps: z.number().int().min(0).max(10_000),
  redistributionBps: z.number().int().min(0).max(10_000),
  challengerBond: uint,
  subjectiveBond: uint,
  slashBps: z.number().int().min(1).max(10_000),
  quorumBps: z.number().int().min(5_001).max(10_000),
  escalationWindow: z
    .number()
    .int()
    .nonnegative()
    .describe('time after a quorum verdict during which anyone can contest it with the fork bond; 0 turns the fork backstop off'),
  forkPeriod: z.number().int().positive().describe('time a fork stays open for redemption before its fork choice is read'),
  forkBond: uint.describe('ETH a contester posts; returned only if its fork wins, burned otherwise'),
  forkChoiceBps: z
    .number()
    .int()
    .min(5_000)
    .max(9_999)
    .describe('the verdict is overturned when its child holds more than this share of the redeemed supply'),
  forkRewardBps: z.number().int().min(0).max(10_000).describe('share of slashed verifier stake paid to a winning contester or a false-verdict prover'),
  workTokenSupply: uint.describe('the WorkToken (CVW) supply, allocated at deployment; no more can ever be minted'),
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
  escalationWindow: 86_400,
  forkPeriod: 3 * 86_400,
  forkBond: 10n * 10n ** 18n,
  forkChoiceBps: 5_000,
  forkRewardBps: 2_000,
  workTokenSupply: 1_000_000n * 10n ** 18n,
}

/**
 * What the local dev stack (`covenant dev`, the demo, the examples) changes: a verdict is
 * contestable for 10 s and a fork runs 30 s, so the fork backstop plays out while you watch.
 */
export const devProtocolParams: Partial<ProtocolParams> = {
  escalationWindow: 10,
  forkPeriod: 30,
}

/** WorkToken (CVW) each dev account gets at genesis on a local chain: enough to stake and to redeem into forks. */
export const DEV_WORK_TOKEN_GRANT = 10_000n * 10n ** 18n

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
    workToken: address,
    forkManager: address,
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
