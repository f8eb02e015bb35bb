// Test fixtures for src/wallet and src/agent (not exported from index.ts): a real anvil,
// a funded agent key in a keystore, a fresh WAL, and a wallet on top.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino, { type Logger } from 'pino'
import { createPublicClient, createWalletClient, http, parseEther, type Address, type Chain, type Hex, type PrivateKeyAccount, type PublicClient } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startAnvil, type Anvil } from '../bonds/anvil.js'
import { chainFor } from '../bonds/client.js'
import { TraceWal } from '../trace/wal.js'
import { createAgentWallet, type CreateAgentWalletParameters } from './agentWallet.js'
import { createKeystore, decryptKeystore } from './keystore.js'
import type { PolicyInput } from './policy.js'

export const FAST_SCRYPT = { N: 1024, r: 8, p: 1 }

export type WalletChain = {
  anvil: Anvil
  chain: Chain
  client: PublicClient
  /** Sends `value` from anvil's funded account 0. */
  fund(to: Address, value: bigint): Promise<void>
  balance(of: Address): Promise<bigint>
  /** Transactions mined from `from` (its latest nonce). */
  nonce(of: Address): Promise<number>
  tmpDir(): Promise<string>
  stop(): Promise<void>
}

export async function startWalletChain(): Promise<WalletChain> {
  const anvil = await startAnvil({ accounts: 2 })
  const chain = chainFor(anvil.rpcUrl, anvil.chainId)
  const client = createPublicClient({ chain, transport: http(anvil.rpcUrl), pollingInterval: 50, cacheTime: 0 }) as PublicClient
  const funder = createWalletClient({ chain, transport: http(anvil.rpcUrl), account: anvil.accounts[0]!, pollingInterval: 50 })
  const dirs: string[] = []
  return {
    anvil,
    chain,
    client,
    async fund(to, value) {
      const hash = await funder.sendTransaction({ to, value })
      await client.waitForTransactionReceipt({ hash, pollingInterval: 50 })
    },
    balance: (of) => client.getBalance({ address: of }),
    nonce: (of) => client.getTransactionCount({ address: of, blockTag: 'latest' }),
    async tmpDir() {
      const d = await mkdtemp(join(tmpdir(), 'covenant-wallet-'))
      dirs.push(d)
      return d
    },
    async stop() {
      await anvil.stop()
      for (const d of dirs) await rm(d, { recursive: true, force: true })
    },
  }
}

export type AgentKey = { privateKey: Hex; account: PrivateKeyAccount; address: Address }

/** A fresh agent key that went through a real (low-cost) keystore, funded with 10 ETH. */
export async function fundedAgentKey(c: WalletChain, eth = '10'): Promise<AgentKey> {
  const privateKey = generatePrivateKey()
  const { keystore } = await createKeystore({ password: 'test', privateKey, scrypt: FAST_SCRYPT })
  const account = await decryptKeystore(keystore, 'test')
  await c.fund(account.address, parseEther(eth))
  return { privateKey, account, address: account.address }
}

export const randomAddress = (): Address => privateKeyToAccount(generatePrivateKey()).address

export function basePolicy(targets: Address[], extra: Partial<PolicyInput> = {}): PolicyInput {
  return {
    maxValuePerTx: parseEther('1'),
    challengeWindow: 3600,
    commitDeadline: 600,
    allowedTargets: targets,
    allowedSelectors: [],
    ...extra,
  }
}

/** A pino logger that keeps its lines in memory. */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) })
  return { logger, lines }
}

export async function openWallet(
  c: WalletChain,
  p: { dir: string; agentId?: string; account: PrivateKeyAccount; policy: PolicyInput } & Partial<CreateAgentWalletParameters>,
) {
  const wal = p.wal ?? (await TraceWal.open({ dir: p.dir, agentId: p.agentId ?? '1' }))
  try {
    const wallet = await createAgentWallet({
      chain: c.chain,
      policyVersion: 1,
      pollingIntervalMs: 50,
      logger: p.logger ?? memoryLogger().logger,
      ...p,
      wal,
    })
    return { wal, wallet }
  } catch (err) {
    if (!p.wal) await wal.close()
    throw err
  }
}
