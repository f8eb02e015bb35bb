import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import { createSimulatedQuote, simulatedQuoteVerifier, verifyQuote } from './attestation.js'
import { type MeasurementInputs, computeMeasurement } from './measurement.js'

const account = privateKeyToAccount(generatePrivateKey())
const inputs: MeasurementInputs = {
  kind: 'covenant-inference-container/v1',
  serverBuild: `0x${'11'.repeat(32)}`,
  node: 'v20',
  models: [{ name: 'moderation', digest: `0x${'22'.repeat(32)}` }],
  runtime: { name: 'onnxruntime-node', version: '1.30.0' },
  settings: { intraOpNumThreads: 1 },
}
const nonce = `0x${'ab'.repeat(32)}` as const

describe('simulated attestation', () => {
  test('a simulated quote says so and verifies as simulated', async () => {
    const quote = await createSimulatedQuote(account, inputs, { nonce })
    expect(quote.simulated).toBe(true)
    expect(quote.notice).toMatch(/SIMULATED/)
    const v = await verifyQuote(quote, { nonce })
    expect(v).toMatchObject({ signer: account.address, measurement: computeMeasurement(inputs), simulated: true })
  })

  test('requireHardware rejects it; a wrong nonce or measurement is rejected', async () => {
    const quote = await createSimulatedQuote(account, inputs, { nonce })
    await expect(verifyQuote(quote, { requireHardware: true })).rejects.toMatchObject({ name: 'QuoteVerificationError' })
    await expect(verifyQuote(quote, { nonce: `0x${'cd'.repeat(32)}` })).rejects.toThrow(/nonce/)
    await expect(verifyQuote(quote, { expectedMeasurement: `0x${'00'.repeat(32)}` })).rejects.toThrow(/measurement/)
  })

  test('an altered quote fails', async () => {
    const quote = await createSimulatedQuote(account, inputs, { nonce })
    const models = [{ name: 'moderation', digest: `0x${'33'.repeat(32)}` }]
    const inputs2 = { ...quote.report.measurementInputs, models }
    const altered = { ...quote, report: { ...quote.report, measurementInputs: inputs2, mrtd: computeMeasurement(inputs2 as MeasurementInputs) } }
    await expect(simulatedQuoteVerifier().verify(altered, {})).rejects.toThrow(/signature/)
    const other = privateKeyToAccount(generatePrivateKey())
    await expect(simulatedQuoteVerifier().verify({ ...quote, report: { ...quote.report, signer: other.address } }, {})).rejects.toThrow(/publicKey/)
  })

  test('verifying real quotes is pluggable', async () => {
    const tdx = { format: 'intel-tdx-v4', verify: async () => ({ signer: account.address, measurement: computeMeasurement(inputs), simulated: false, format: 'intel-tdx-v4' }) }
    await expect(verifyQuote({ format: 'intel-tdx-v4' }, { verifiers: [tdx], requireHardware: true })).resolves.toMatchObject({ simulated: false })
    await expect(verifyQuote({ format: 'intel-tdx-v4' })).rejects.toThrow(/no verifier/)
  })
})
