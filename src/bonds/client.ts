import {
  BaseError as ViemBaseError,
  HttpRequestError,
  TimeoutError,
  WebSocketRequestError,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Account,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem'
import type { CovenantDeployment } from './deployment.js'
import { BaseError } from '../errors/base.js'
import { rpcTransport } from '../http/rpcTransport.js'
import { RpcError } from './errors.js'

export type CovenantWalletClient = WalletClient<Transport, Chain, Account>

/** What every bonds action takes: the chain, the deployment, and (for writes) an account. */
export type CovenantClient = {
  deployment: CovenantDeployment
  publicClient: PublicClient
  walletClient?: CovenantWalletClient | undefined
}

export type CovenantWriteClient = CovenantClient & { walletClient: CovenantWalletClient }

export class MissingAccountError extends BaseError {
  override name = 'MissingAccountError' as const
  constructor(action: string) {
    super(`${action} sends a transaction, but the client has no account.`, {
      metaMessages: ['Create the client with an account (a keystore, or --keystore on the CLI).'],
    })
  }
}

export function requireWallet(client: CovenantClient, action: string): CovenantWriteClient {
  if (!client.walletClient) throw new MissingAccountError(action)
  return client as CovenantWriteClient
}

/** A viem chain for an RPC URL and chain id (anvil, a testnet, anything EVM). */
export function chainFor(rpcUrl: string, chainId: number): Chain {
  return defineChain({
    id: chainId,
    name: chainId === 31337 ? 'Anvil' : `chain-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
}

export type CreateCovenantClientParameters = {
  rpcUrl: string
  deployment: CovenantDeployment
  account?: Account | undefined
  /** Polling interval for receipts and watchers, ms. @defaultValue 250 */
  pollingInterval?: number | undefined
}

export function createCovenantClient(p: CreateCovenantClientParameters): CovenantClient {
  const chain = chainFor(p.rpcUrl, p.deployment.chainId)
  const transport = rpcTransport(p.rpcUrl, { retryCount: 2 })
  const pollingInterval = p.pollingInterval ?? 250
  const publicClient = withRpcErrors(createPublicClient({ chain, transport, pollingInterval, cacheTime: 0 }) as PublicClient, p.rpcUrl)
  const walletClient = p.account
    ? createWalletClient({ chain, transport, account: p.account, pollingInterval, cacheTime: 0 })
    : undefined
  return { deployment: p.deployment, publicClient, walletClient }
}

/** The same chain and deployment, acting as another account. */
export function withAccount(client: CovenantClient, account: Account): CovenantWriteClient {
  const chain = client.publicClient.chain
  if (!chain) throw new BaseError('The public client has no chain configured.')
  const url = chain.rpcUrls.default.http[0]
  if (!url) throw new BaseError('The chain has no RPC URL.')
  return {
    ...client,
    walletClient: createWalletClient({ chain, transport: rpcTransport(url, { retryCount: 2 }), account, pollingInterval: 250, cacheTime: 0 }),
  }
}

/**
 * A reader on the same node whose calls made together (in one tick: a `Promise.all` of reads)
 * go out as one JSON-RPC batch, one HTTP request (viem's `batch`; a call waits for the next
 * macrotask, so this is for work off an action's path, such as the committer's reads). Reads
 * throw {@link RpcError} like the client's own. The client's reader where its chain has no URL.
 */
export function batchingReader(client: CovenantClient): PublicClient {
  const chain = client.publicClient.chain
  const url = chain?.rpcUrls.default.http[0]
  if (!chain || !url) return client.publicClient
  return withRpcErrors(createPublicClient({ chain, transport: rpcTransport(url, { retryCount: 2, batch: true }), cacheTime: 0 }) as PublicClient, url)
}

/**
 * The contract reads of the bonds actions (`readContract`, `getContractEvents`) throw
 * {@link RpcError} — the URL and what to check — when the node cannot be reached, instead
 * of viem's transport error wrapped in a contract-call error. Other errors are unchanged.
 */
function withRpcErrors(publicClient: PublicClient, rpcUrl: string): PublicClient {
  const c = publicClient as unknown as Record<'readContract' | 'getContractEvents', (...args: unknown[]) => Promise<unknown>>
  for (const name of ['readContract', 'getContractEvents'] as const) {
    const read = c[name]
    c[name] = async (...args: unknown[]) => {
      try {
        return await read(...args)
      } catch (err) {
        const unreachable =
          err instanceof ViemBaseError &&
          err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError || e instanceof WebSocketRequestError) !== null
        throw unreachable ? new RpcError(rpcUrl, err) : err
      }
    }
  }
  return publicClient
}
