import fc from 'fast-check'
import { type Hex, type TransactionSerializable, bytesToHex, parseTransaction, recoverTransactionAddress } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { expect, test } from 'vitest'
import { keyAccount } from './keyAccount.js'

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => bytesToHex(b))
// secp256k1 keys: 32 bytes, not zero, below the group order
const key = bytes(32).filter((k) => BigInt(k) > 0n && BigInt(k) < 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n)
const u = (max: bigint) => fc.bigInt({ min: 0n, max })
const common = fc.record({
  chainId: fc.integer({ min: 1, max: 2 ** 32 }),
  to: bytes(20),
  value: u(10n ** 24n),
  nonce: fc.integer({ min: 0, max: 2 ** 32 }),
  gas: u(30_000_000n),
  data: fc.uint8Array({ maxLength: 200 }).map((b) => bytesToHex(b)),
})
const transaction: fc.Arbitrary<TransactionSerializable> = fc.oneof(
  common.chain((c) => u(10n ** 12n).map((gasPrice) => ({ ...c, type: 'legacy' as const, gasPrice }))),
  common.chain((c) => u(10n ** 12n).map((gasPrice) => ({ ...c, type: 'eip2930' as const, gasPrice, accessList: [{ address: c.to, storageKeys: [`0x${'11'.repeat(32)}` as Hex] }] }))),
  common.chain((c) =>
    // the tip may not exceed the fee cap (viem refuses to serialize it)
    fc.tuple(u(10n ** 12n), u(10n ** 12n)).map(([a, b]) => ({ ...c, type: 'eip1559' as const, maxFeePerGas: a > b ? a : b, maxPriorityFeePerGas: a > b ? b : a })),
  ),
)

test('signs every transaction type to the very bytes viem signs (200 random keys and transactions)', async () => {
  await fc.assert(
    fc.asyncProperty(key, transaction, async (k, tx) => {
      const ours = await keyAccount(k as Hex).signTransaction(tx)
      expect(ours).toBe(await privateKeyToAccount(k as Hex).signTransaction(tx))
      expect(await recoverTransactionAddress({ serializedTransaction: ours as never })).toBe(privateKeyToAccount(k as Hex).address)
      expect(parseTransaction(ours).nonce).toBe(tx.nonce)
    }),
    { numRuns: 200 },
  )
})

test('is viem\'s account otherwise: address, public key, messages', async () => {
  const k = `0x${'42'.repeat(32)}` as Hex
  const ours = keyAccount(k)
  const viems = privateKeyToAccount(k)
  expect([ours.address, ours.publicKey, ours.type, ours.source]).toEqual([viems.address, viems.publicKey, viems.type, viems.source])
  expect(await ours.signMessage({ message: 'covenant' })).toBe(await viems.signMessage({ message: 'covenant' }))
})
