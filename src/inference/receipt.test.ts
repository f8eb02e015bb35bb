import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import { hashJson } from './hash.js'
import { responseOutputHash, signReceipt, verifyReceipt } from './receipt.js'
import { chatOutputHash } from './chatOutput.js'

const account = privateKeyToAccount(generatePrivateKey())
const other = privateKeyToAccount(generatePrivateKey())
const measurement = hashJson({ build: 'test' })
const modelDigest = hashJson({ model: 'test' })
const request = { model: 'covenant-chat', messages: [{ role: 'user', content: 'hi' }] }
const response = {
  object: 'chat.completion',
  id: 'chatcmpl-1',
  created: 1,
  choices: [{ index: 0, message: { role: 'assistant', content: 'I can only help with the tasks my tools support.' }, finish_reason: 'stop' }],
}

async function signed() {
  const receipt = await signReceipt(account, {
    measurement,
    modelDigest,
    requestHash: hashJson(request),
    responseHash: hashJson(response),
    outputHash: responseOutputHash(response),
    issuedAt: 1_700_000_000,
  })
  return { receipt, body: { ...response, covenant_receipt: receipt } }
}

describe('receipts', () => {
  test('a receipt verifies against the exchange it covers', async () => {
    const { receipt, body } = await signed()
    await expect(verifyReceipt({ receipt, request, response: body, expectedSigner: account.address, expectedMeasurement: measurement })).resolves.toEqual(receipt)
    expect(receipt.outputHash).toBe(chatOutputHash(response))
  })

  test('a tampered response fails with ReceiptHashMismatchError', async () => {
    const { receipt, body } = await signed()
    const tampered = structuredClone(body)
    tampered.choices[0]!.message.content = 'Paid INV-1.'
    await expect(verifyReceipt({ receipt, request, response: tampered })).rejects.toMatchObject({ name: 'ReceiptHashMismatchError', field: 'responseHash' })
    // Changing only a field outside the output (e.g. created) is caught by responseHash too.
    await expect(verifyReceipt({ receipt, request, response: { ...body, created: 2 } })).rejects.toMatchObject({ name: 'ReceiptHashMismatchError' })
  })

  test('a tampered request fails', async () => {
    const { receipt, body } = await signed()
    await expect(verifyReceipt({ receipt, request: { ...request, seed: 1 }, response: body })).rejects.toMatchObject({ field: 'requestHash' })
  })

  test('a tampered receipt fails with ReceiptSignatureError', async () => {
    const { receipt, body } = await signed()
    const forged = { ...receipt, issuedAt: receipt.issuedAt + 1 }
    const err = await verifyReceipt({ receipt: forged, request, response: body }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'ReceiptSignatureError' })
    expect((err as Error).message).toContain(receipt.signer)
    // Re-pointing the hashes at a forged response does not help either.
    const forgedBody = { ...body, choices: [{ ...body.choices[0]!, message: { role: 'assistant', content: 'x' } }] }
    const repointed = { ...receipt, responseHash: hashJson({ ...forgedBody, covenant_receipt: undefined }), outputHash: responseOutputHash(forgedBody) }
    await expect(verifyReceipt({ receipt: repointed, request, response: forgedBody })).rejects.toMatchObject({ name: 'ReceiptSignatureError' })
  })

  test('a receipt from another key, or naming another measurement, is rejected', async () => {
    const { receipt, body } = await signed()
    await expect(verifyReceipt({ receipt, request, response: body, expectedSigner: other.address })).rejects.toMatchObject({ name: 'ReceiptSignerMismatchError' })
    await expect(verifyReceipt({ receipt, request, response: body, expectedMeasurement: modelDigest })).rejects.toMatchObject({ name: 'ReceiptSignerMismatchError' })
  })

  test('a malformed receipt is rejected', async () => {
    await expect(verifyReceipt({ receipt: { version: 1 }, request, response })).rejects.toMatchObject({ name: 'ReceiptMalformedError' })
  })
})

describe('signReceipt', () => {
  test('signing the digest as a hash gives exactly the signature of viem\'s signTypedData (and the same for an account without sign)', async () => {
    const { RECEIPT_DOMAIN, RECEIPT_TYPES } = await import('./receipt.js')
    const account = privateKeyToAccount(generatePrivateKey())
    const h = (b: string) => `0x${b.repeat(32)}` as `0x${string}`
    const fields = { measurement: h('01'), modelDigest: h('02'), requestHash: h('03'), responseHash: h('04'), outputHash: h('05'), issuedAt: 1_700_000_000 }
    const typed = await account.signTypedData({ domain: RECEIPT_DOMAIN, types: RECEIPT_TYPES, primaryType: 'Receipt', message: { ...fields, issuedAt: BigInt(fields.issuedAt) } })
    expect((await signReceipt(account, fields)).signature).toBe(typed)
    expect((await signReceipt({ ...account, sign: undefined }, fields)).signature).toBe(typed)
  })
})
