import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { x402Facilitator } from '@x402/core/facilitator'
import { decodePaymentSignatureHeader, encodePaymentRequiredHeader, encodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse } from '@x402/core/types'
import { toFacilitatorEvmSigner } from '@x402/evm'
import { ExactEvmScheme } from '@x402/evm/exact/facilitator'
import { createPublicClient, createWalletClient, getAddress, http, type Address, type Chain, type LocalAccount } from 'viem'

export type X402DevServerParameters = {
  /** The chain the token lives on (an anvil, for tests and demos). */
  chain: Chain
  /** The facilitator's key: it submits `transferWithAuthorization` and pays the gas. */
  facilitator: LocalAccount
  /** The EIP-3009 token asked for. */
  token: Address
  /** The token's EIP-712 domain name and version (the x402 `extra`). */
  tokenName: string
  tokenVersion: string
  /** Who is paid. */
  payTo: Address
  /** Paid resources: path → price (token units) and the body served once paid. */
  resources: Record<string, { price: bigint; body: string }>
  /** Seconds a payment authorization may take (x402 maxTimeoutSeconds). @defaultValue 300 */
  maxTimeoutSeconds?: number | undefined
}

export type X402DevServer = {
  url: string
  /** Every settlement the facilitator made, in order. */
  readonly settlements: readonly SettleResponse[]
  close(): Promise<void>
}

/**
 * DEV ONLY: a resource server and facilitator in one process, speaking x402 v2 over HTTP on
 * 127.0.0.1 — for tests, examples and the demo on a local chain. A request without a
 * `PAYMENT-SIGNATURE` header gets `402` with the payment requirements (`PAYMENT-REQUIRED`
 * header and JSON body: scheme "exact", EIP-3009); with one, the payment is verified and
 * settled on chain by x402's own EVM facilitator (`@x402/evm`'s ExactEvmScheme:
 * signature check with ERC-1271/6492 for contract payers, `transferWithAuthorization`, the
 * Transfer event checked) and the body is served with a `PAYMENT-RESPONSE` header.
 */
export async function startX402DevServer(p: X402DevServerParameters): Promise<X402DevServer> {
  const transport = http(p.chain.rpcUrls.default.http[0])
  const publicClient = createPublicClient({ chain: p.chain, transport, pollingInterval: 100 })
  const walletClient = createWalletClient({ chain: p.chain, transport, account: p.facilitator, pollingInterval: 100 })
  const signer = toFacilitatorEvmSigner({
    address: p.facilitator.address,
    readContract: (a) => publicClient.readContract(a as never),
    verifyTypedData: (a) => publicClient.verifyTypedData(a as never),
    writeContract: (a) => walletClient.writeContract(a as never),
    sendTransaction: (a) => walletClient.sendTransaction({ to: a.to, data: a.data }),
    waitForTransactionReceipt: (a) => publicClient.waitForTransactionReceipt({ hash: a.hash }),
    getCode: (a) => publicClient.getCode(a),
  })
  const network = `eip155:${p.chain.id}` as const
  const facilitator = new x402Facilitator().register(network, new ExactEvmScheme(signer))
  const settlements: SettleResponse[] = []

  const requirementsFor = (price: bigint): PaymentRequirements => ({
    scheme: 'exact',
    network,
    asset: getAddress(p.token),
    amount: price.toString(),
    payTo: getAddress(p.payTo),
    maxTimeoutSeconds: p.maxTimeoutSeconds ?? 300,
    extra: { name: p.tokenName, version: p.tokenVersion, assetTransferMethod: 'eip3009' },
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    const resource = Object.hasOwn(p.resources, path) ? p.resources[path] : undefined
    if (!resource || req.method !== 'GET') return reply(res, 404, { error: 'no such resource' })
    const requirements = requirementsFor(resource.price)
    const paymentRequired = (error?: string): PaymentRequired => ({
      x402Version: 2,
      ...(error ? { error } : {}),
      resource: { url: `http://${req.headers.host ?? '127.0.0.1'}${path}`, description: `paid resource ${path}`, mimeType: 'text/plain' },
      accepts: [requirements],
    })
    const header = req.headers['payment-signature']
    if (typeof header !== 'string') {
      const body = paymentRequired('payment required')
      return reply(res, 402, body, { 'PAYMENT-REQUIRED': encodePaymentRequiredHeader(body) })
    }
    let payload: PaymentPayload
    try {
      payload = decodePaymentSignatureHeader(header)
    } catch {
      const body = paymentRequired('unreadable PAYMENT-SIGNATURE header')
      return reply(res, 402, body, { 'PAYMENT-REQUIRED': encodePaymentRequiredHeader(body) })
    }
    const verified = await facilitator.verify(payload, requirements)
    if (!verified.isValid) {
      const body = paymentRequired(`payment invalid: ${verified.invalidReason ?? 'unknown'}${verified.invalidMessage ? ` (${verified.invalidMessage})` : ''}`)
      return reply(res, 402, body, { 'PAYMENT-REQUIRED': encodePaymentRequiredHeader(body) })
    }
    const settled = await facilitator.settle(payload, requirements)
    settlements.push(settled)
    if (!settled.success) {
      const body = paymentRequired(`settlement failed: ${settled.errorReason ?? 'unknown'}`)
      return reply(res, 402, body, { 'PAYMENT-REQUIRED': encodePaymentRequiredHeader(body) })
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'PAYMENT-RESPONSE': encodePaymentResponseHeader(settled) })
    res.end(resource.body)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => reply(res, 500, { error: err instanceof Error ? err.message.slice(0, 500) : 'internal error' }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    settlements,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  }
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end()
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}
