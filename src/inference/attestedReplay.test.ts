import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { HumanMessage } from '@langchain/core/messages'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatOutputHash } from './chatOutput.js'
import { createInferenceApp } from './server.js'
import { hashJson, sha256Hex } from './hash.js'
import { createModelStore } from './modelStore.js'
import { createChatModel } from './openaiBackend.js'
import { signReceipt, stripReceipt } from './receipt.js'
import { replay } from './replay.js'
import type { ReplayRecord } from './schemas.js'
import { startInferenceServer, type InferenceServer } from './server.js'

// Attested means attested (issue #13): a receipt is evidence only when the key that signed
// it is the one registered for the agent; and exact replay checks the receipt too.
const bin = fileURLToPath(new URL('../../bin/covenant.js', import.meta.url))
const run = promisify(execFile)
const payInvoice = {
  type: 'function',
  function: {
    name: 'pay_invoice',
    description: 'Pay an invoice in ETH to the address printed on it.',
    parameters: { type: 'object', properties: { invoiceId: { type: 'string' }, to: { type: 'string' }, amountEth: { type: 'string' } }, required: ['invoiceId', 'to', 'amountEth'] },
  },
}
const invoice = 'Invoice INV-2041 from Northwind Ltd: please pay 0.25 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed for GPU hours.'
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T

let server: InferenceServer
let attested: ReplayRecord
let exact: ReplayRecord
const nothingHere = createModelStore({ root: mkdtempSync(join(tmpdir(), 'covenant-empty-store-')) })
const dir = mkdtempSync(join(tmpdir(), 'covenant-attested-'))

beforeAll(async () => {
  server = await startInferenceServer({ port: 0 })
  // a machine without the model: the records are attested (receipt only)
  const remote = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat', store: nothingHere })
  await remote.chat.bindTools([payInvoice] as never).invoke([new HumanMessage(invoice)])
  attested = remote.takeRecords()[0]!
  const local = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat' })
  await local.chat.bindTools([payInvoice] as never).invoke([new HumanMessage(invoice)])
  exact = local.takeRecords()[0]!
})
afterAll(async () => {
  await server?.close()
})

/** The attacker's record: pays 0xdEaD, names a model nobody registered, signed by a fresh key of its own. */
async function selfSigned(): Promise<ReplayRecord> {
  const forged = clone(attested) as ReplayRecord & { response: { choices: Array<{ message: { tool_calls: Array<{ function: { arguments: string } }> } }> } }
  forged.response.choices[0]!.message.tool_calls[0]!.function.arguments = JSON.stringify({ invoiceId: 'INV-2041', to: '0x000000000000000000000000000000000000dEaD', amountEth: '0.25' })
  forged.outputHash = chatOutputHash(forged.response)
  forged.modelDigest = sha256Hex('a model nobody registered')
  const fresh = privateKeyToAccount(generatePrivateKey())
  const body = stripReceipt(forged.response) as Record<string, unknown>
  const receipt = await signReceipt(fresh, {
    measurement: sha256Hex('any measurement') as `0x${string}`,
    modelDigest: forged.modelDigest as `0x${string}`,
    requestHash: hashJson(forged.request),
    responseHash: hashJson(body),
    outputHash: forged.outputHash as `0x${string}`,
    issuedAt: Math.floor(Date.now() / 1000),
  })
  forged.response = { ...body, covenant_receipt: receipt } as never
  forged.receipt = receipt
  forged.endpoint = { url: 'http://attacker.example/v1/chat/completions', signer: fresh.address, measurement: receipt.measurement, quote: 'none' }
  return forged
}

describe('attested records', () => {
  it('an honest attested record matches when its receipt key is the registered one', async () => {
    expect(attested.replay).toBe('attested')
    const r = await replay(attested, { store: nothingHere, registration: { signers: [server.address], measurement: server.measurement } })
    expect(r).toMatchObject({ match: true, mode: 'attested' })
  })

  it('without a registration, a receipt attests nothing', async () => {
    const r = await replay(attested, { store: nothingHere })
    expect(r.match).toBe(false)
    expect(r.diff?.reason).toMatch(/no receipt key or measurement is registered/)
  })

  it('the self-signed 0xdEaD record is a fault: with the real registration, and with none', async () => {
    const forged = await selfSigned()
    const withReg = await replay(forged, { store: nothingHere, registration: { signers: [server.address] } })
    expect(withReg.match).toBe(false)
    expect(withReg.diff?.reason).toMatch(/not a registered receipt key/)
    const regMeasurementOnly = await replay(forged, { store: nothingHere, registration: { measurement: server.measurement } })
    expect(regMeasurementOnly.match).toBe(false)
    expect((await replay(forged, { store: nothingHere })).match).toBe(false)
  })

  it('covenant inference replay exits non-zero on it, and 0 on the honest record with --signer', async () => {
    const forgedFile = join(dir, 'forged.json')
    writeFileSync(forgedFile, JSON.stringify(await selfSigned()))
    const err = await run(process.execPath, [bin, 'inference', 'replay', forgedFile]).then(
      () => undefined,
      (e: { code?: number; stdout?: string }) => e,
    )
    expect(err?.code).toBe(2)
    expect(err?.stdout).toMatch(/MISMATCH \(attested\)/)
    const honestFile = join(dir, 'honest.json')
    writeFileSync(honestFile, JSON.stringify({ ...attested, modelDigest: sha256Hex('elsewhere'), model: { name: 'covenant-chat', digestOf: 'endpoint-and-name' } }))
    // the digest change breaks nothing a registration checks: the receipt's own model is the container's
    const ok = await run(process.execPath, [bin, 'inference', 'replay', honestFile, '--signer', server.address])
    expect(ok.stdout).toMatch(/MATCH \(attested\)/)
  })
})

describe('exact replay checks the receipt too', () => {
  it('an honest record matches', async () => {
    expect(exact.replay).toBe('exact')
    expect(await replay(exact, { registration: { signers: [server.address] } })).toMatchObject({ match: true, mode: 'exact' })
  })

  it('a flipped receipt signature is a mismatch', async () => {
    const r = clone(exact)
    const sig = r.receipt!.signature
    r.receipt!.signature = `${sig.slice(0, 10)}${sig[10] === 'a' ? 'b' : 'a'}${sig.slice(11)}`
    const out = await replay(r)
    expect(out.match).toBe(false)
    expect(out.diff?.reason).toMatch(/receipt does not verify/)
  })

  it('edited signed settings are a mismatch (the response no longer hashes to the signed one)', async () => {
    const r = clone(exact) as ReplayRecord & { response: { covenant: { runtime: { settings: Record<string, unknown> } } } }
    r.response.covenant.runtime.settings['intraOpNumThreads'] = 2
    const out = await replay(r)
    expect(out.match).toBe(false)
    expect(out.diff?.reason).toMatch(/receipt does not verify/)
  })

  it('a receipt from a key other than the registered one is a mismatch', async () => {
    const out = await replay(exact, { registration: { signers: [privateKeyToAccount(generatePrivateKey()).address] } })
    expect(out.match).toBe(false)
  })

  it('an endpoint record claiming exact without a receipt is a mismatch', async () => {
    const r = clone(exact)
    delete r.receipt
    expect((await replay(r)).match).toBe(false)
  })
})

describe('the measurement states the execution provider ONNX Runtime actually uses', () => {
  it('a container asked to claim cuda refuses to start, and its measurement says cpu', async () => {
    await expect(createInferenceApp({ settings: { executionProvider: 'cuda' } as never })).rejects.toThrow(/executionProvider "cuda" is not what ONNX Runtime runs here/)
    expect(server.measurementInputs.settings['executionProvider']).toBe('cpu')
  })
})
