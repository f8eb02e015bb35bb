/**
 * A JSON-RPC proxy in front of a real anvil that answers one chosen method with a chosen
 * bad answer (garbage, wrong types, errors, wrong chain id, numbers out of range) and
 * forwards everything else, recording what it saw — in particular whether a signed
 * transaction ever reached the node.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'

export type BadAnswer =
  | { kind: 'result'; value: unknown }
  | { kind: 'error'; code: number; message: string }
  | { kind: 'http'; status: number; text: string }
  | { kind: 'raw'; text: string }
  | { kind: 'wrong-id' }
  | { kind: 'no-result' }

export type Plan = { method: string; answer: BadAnswer } | undefined

export type RpcProxy = {
  url: string
  plan: Plan
  /** Methods seen since the last reset, in order. */
  seen: string[]
  /** Whether a raw transaction was forwarded to the node since the last reset. */
  sentRaw: number
  /** How many requests got the bad answer since the last reset. */
  corrupted: number
  reset(): void
  close(): Promise<void>
}

export async function startRpcProxy(upstream: string): Promise<RpcProxy> {
  const proxy: RpcProxy = {
    url: '',
    plan: undefined,
    seen: [],
    sentRaw: 0,
    corrupted: 0,
    reset() {
      proxy.seen = []
      proxy.sentRaw = 0
      proxy.corrupted = 0
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
  const server: Server = createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += String(chunk)
    let parsed: { id?: unknown; method?: string }
    try {
      parsed = JSON.parse(body) as { id?: unknown; method?: string }
    } catch {
      res.writeHead(400).end()
      return
    }
    const method = parsed.method ?? '?'
    proxy.seen.push(method)
    const plan = proxy.plan
    if (plan && plan.method === method) {
      proxy.corrupted++
      const a = plan.answer
      const id = parsed.id
      const json = (v: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v))
      switch (a.kind) {
        case 'result':
          return json({ jsonrpc: '2.0', id, result: a.value })
        case 'error':
          return json({ jsonrpc: '2.0', id, error: { code: a.code, message: a.message } })
        case 'http':
          return res.writeHead(a.status, { 'content-type': 'text/plain' }).end(a.text)
        case 'raw':
          return res.writeHead(200, { 'content-type': 'application/json' }).end(a.text)
        case 'wrong-id':
          return json({ jsonrpc: '2.0', id: typeof id === 'number' ? id + 1_000 : 'other', result: '0x1' })
        case 'no-result':
          return json({ jsonrpc: '2.0', id })
      }
    }
    if (method === 'eth_sendRawTransaction') proxy.sentRaw++
    const up = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    res.writeHead(up.status, { 'content-type': 'application/json' }).end(await up.text())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return proxy
}

// ------------------------------------------------------------------ bad answers

const notHex = fc.oneof(fc.constantFrom('abc', '0xzz', '0x-1', '0x 1', '1234', '0xg1', '--', 'null'), fc.string({ maxLength: 12 }).filter((s) => !/^0x[0-9a-fA-F]*$/.test(s)))
const wrongType = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant({}), fc.constant([]), fc.array(fc.string({ maxLength: 3 }), { minLength: 1, maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { minKeys: 1, maxKeys: 2 }))
/** Transport-level trouble and malformed envelopes: bad for any method. */
export const badEnvelope: fc.Arbitrary<BadAnswer> = fc.oneof(
  fc.record({ code: fc.constantFrom(-32000, -32602, -32601, 3, 4001), message: fc.string({ maxLength: 30 }) }).map((e) => ({ kind: 'error' as const, ...e })),
  fc.record({ status: fc.constantFrom(400, 401, 404, 405), text: fc.string({ maxLength: 20 }) }).map((h) => ({ kind: 'http' as const, ...h })),
  fc.oneof(fc.constant(''), fc.constant('{'), fc.constant('<html>bad gateway</html>'), fc.string({ maxLength: 30 }).filter((s) => { try { JSON.parse(s); return false } catch { return true } })).map((text) => ({ kind: 'raw' as const, text })),
  fc.constant({ kind: 'no-result' as const }),
  // (a well-formed result under another request's id is left out: viem's http transport
  // does not match single responses by id, so nothing above it can tell)
)
/** Retried by viem's http transport (5xx, "internal error"): bad too, but slow with retries on. */
export const badRetryable: fc.Arbitrary<BadAnswer> = fc.oneof(
  fc.record({ status: fc.constantFrom(500, 502, 503), text: fc.string({ maxLength: 20 }) }).map((h) => ({ kind: 'http' as const, ...h })),
  fc.constant({ kind: 'error' as const, code: -32603, message: 'internal error' }),
)
/** Not a quantity: wrong JSON types, non-hex text, null. */
export const badQuantity: fc.Arbitrary<BadAnswer> = fc.oneof(notHex, wrongType, fc.constant(null)).map((value) => ({ kind: 'result' as const, value }))
/** A quantity far beyond what the field can hold (nonce ≥ 2^64, gas or fees ≥ 2^200). */
export const hugeQuantity: fc.Arbitrary<BadAnswer> = fc.bigInt({ min: 1n << 200n, max: (1n << 300n) }).map((n) => ({ kind: 'result' as const, value: `0x${n.toString(16)}` }))
/** Not call data: wrong types, odd-length or non-hex strings, bytes of a size no ABI type has. */
export const badCallResult: fc.Arbitrary<BadAnswer> = fc
  .oneof(
    notHex,
    wrongType,
    fc.constant(null),
    fc.constant('0x'),
    fc.stringMatching(/^0x[0-9a-f]{1,63}$/).filter((h) => h.length % 2 === 1),
    fc.integer({ min: 1, max: 31 }).map((n) => `0x${'ab'.repeat(n)}`),
  )
  .map((value) => ({ kind: 'result' as const, value }))
/** Not a block: wrong types, or objects without the fields a block has. */
export const badBlock: fc.Arbitrary<BadAnswer> = fc
  .oneof(notHex, fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}), fc.record({ number: fc.constant('0x1'), baseFeePerGas: notHex }), fc.record({ number: wrongType, hash: fc.constant('0x12') }))
  .map((value) => ({ kind: 'result' as const, value }))
