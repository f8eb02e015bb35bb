import { type Address, type Hex, type LocalAccount, getAddress, isHex, verifyMessage } from 'viem'
import { publicKeyToAddress } from 'viem/accounts'
import { z } from 'zod'
import { QuoteVerificationError } from './errors.js'
import { type Hash, canonicalJson, hashJson, sha256Hex } from './hash.js'
import { type MeasurementInputs, computeMeasurement } from './measurement.js'
import { addressSchema, hex32Schema } from './schemas.js'

/**
 * Attestation. A real confidential VM (Intel TDX, AMD SEV-SNP) returns a quote: a report
 * of the launch measurement plus 64 bytes of caller data, signed by a key chain rooted in
 * the CPU vendor. This container has no TEE, so GET /attestation returns a
 * **SimulatedQuote**: the same shape (measurement registers, reportData binding the
 * container key and a nonce) but signed only by the container key itself. It proves key
 * possession and states what the container claims to run — nothing about isolation. It
 * says so in `simulated: true` and `notice`.
 *
 * Verifying real quotes is pluggable: implement QuoteVerifier for the quote format (e.g.
 * with Intel's DCAP libraries) and pass it to verifyQuote / createChatModel.
 */
export const SIMULATED_QUOTE_FORMAT = 'covenant-simulated-quote/v1' as const
export const SIMULATED_QUOTE_NOTICE =
  'SIMULATED QUOTE: no TEE hardware produced or signed this report. It binds the container key to the measurement the container claims, and nothing more.'

const simulatedQuoteSchema = z.object({
  format: z.literal(SIMULATED_QUOTE_FORMAT),
  simulated: z.literal(true),
  notice: z.string(),
  report: z.object({
    teeType: z.literal('simulated-tdx'),
    mrtd: hex32Schema.describe('the measurement (TDX: MRTD)'),
    rtmr: z.tuple([hex32Schema, hex32Schema, hex32Schema, hex32Schema]).describe('serverBuild, models, runtime+settings, zero'),
    reportData: z.string().regex(/^0x[0-9a-f]{128}$/).describe('sha256(signer ‖ nonce) ‖ 32 zero bytes'),
    signer: addressSchema,
    publicKey: z.string().regex(/^0x04[0-9a-fA-F]{128}$/),
    measurementInputs: z.object({
      kind: z.literal('covenant-inference-container/v1'),
      serverBuild: hex32Schema,
      node: z.string(),
      models: z.array(z.object({ name: z.string(), digest: hex32Schema })),
      runtime: z.object({ name: z.string(), version: z.string() }),
      settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    }),
    nonce: z.string().regex(/^0x[0-9a-fA-F]{0,128}$/).nullable(),
    issuedAt: z.number().int().nonnegative(),
  }),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
})

/** A quote shaped like a TEE report but produced without a TEE. Never treat it as hardware attestation. */
export type SimulatedQuote = z.infer<typeof simulatedQuoteSchema>

/** What a verified quote establishes. */
export type VerifiedQuote = {
  signer: Address
  measurement: Hash
  /** True for SimulatedQuote: the claims are self-signed, not hardware-backed. */
  simulated: boolean
  format: string
  measurementInputs?: MeasurementInputs | undefined
}

/** Verifies one quote format. Implement this for TDX/SEV-SNP quotes. */
export interface QuoteVerifier {
  readonly format: string
  verify(quote: unknown, options: { nonce?: Hex | undefined }): Promise<VerifiedQuote>
}

function reportData(signer: Address, nonce: Hex | null): Hex {
  return `${sha256Hex(`${signer.toLowerCase()}|${nonce ?? ''}`)}${'0'.repeat(64)}` as Hex
}

export async function createSimulatedQuote(
  account: LocalAccount,
  inputs: MeasurementInputs,
  options: { nonce?: Hex | undefined; issuedAt?: number | undefined } = {},
): Promise<SimulatedQuote> {
  const nonce = options.nonce ?? null
  if (nonce !== null && (!isHex(nonce) || nonce.length > 130)) throw new QuoteVerificationError('nonce must be 0x hex of at most 64 bytes')
  if (!account.publicKey) throw new QuoteVerificationError('the container account has no public key')
  const report: SimulatedQuote['report'] = {
    teeType: 'simulated-tdx',
    mrtd: computeMeasurement(inputs),
    rtmr: [inputs.serverBuild, hashJson(inputs.models), hashJson({ runtime: inputs.runtime, settings: inputs.settings }), `0x${'0'.repeat(64)}`],
    reportData: reportData(account.address, nonce),
    signer: account.address,
    publicKey: account.publicKey,
    measurementInputs: inputs,
    nonce,
    issuedAt: options.issuedAt ?? Math.floor(Date.now() / 1000),
  }
  const signature = await account.signMessage({ message: canonicalJson(report) })
  return { format: SIMULATED_QUOTE_FORMAT, simulated: true, notice: SIMULATED_QUOTE_NOTICE, report, signature }
}

/** Verifies SimulatedQuotes: self-consistency and the container key's signature. Says `simulated: true`. */
export function simulatedQuoteVerifier(): QuoteVerifier {
  return {
    format: SIMULATED_QUOTE_FORMAT,
    async verify(quote, { nonce }) {
      const parsed = simulatedQuoteSchema.safeParse(quote)
      if (!parsed.success) {
        throw new QuoteVerificationError('not a well-formed simulated quote', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))
      }
      const { report, signature } = parsed.data
      const signer = getAddress(report.signer)
      if (publicKeyToAddress(report.publicKey as Hex).toLowerCase() !== signer.toLowerCase()) {
        throw new QuoteVerificationError('publicKey does not belong to signer')
      }
      if (nonce !== undefined && report.nonce?.toLowerCase() !== nonce.toLowerCase()) {
        throw new QuoteVerificationError('the quote does not carry the nonce sent', 'A replayed or cached quote: request a fresh one.')
      }
      if (report.reportData !== reportData(signer, (report.nonce as Hex | null) ?? null)) {
        throw new QuoteVerificationError('reportData does not bind the signer and nonce')
      }
      const inputs = report.measurementInputs as MeasurementInputs
      if (report.mrtd !== computeMeasurement(inputs)) throw new QuoteVerificationError('mrtd is not the hash of the measurement inputs')
      const ok = await verifyMessage({ address: signer, message: canonicalJson(report), signature: signature as Hex }).catch(() => false)
      if (!ok) throw new QuoteVerificationError('the report signature is not the signer’s', 'The quote was altered after signing.')
      return { signer, measurement: report.mrtd, simulated: true, format: SIMULATED_QUOTE_FORMAT, measurementInputs: inputs }
    },
  }
}

export type VerifyQuoteParameters = {
  /** @defaultValue [simulatedQuoteVerifier()] */
  verifiers?: readonly QuoteVerifier[] | undefined
  /** The nonce sent with GET /attestation?nonce=…; the quote must carry it. */
  nonce?: Hex | undefined
  /** Reject simulated quotes (production with real TEEs). @defaultValue false */
  requireHardware?: boolean | undefined
  /** The measurement the manifest expects. */
  expectedMeasurement?: Hash | undefined
}

/** Picks the verifier for the quote's format and runs it. */
export async function verifyQuote(quote: unknown, p: VerifyQuoteParameters = {}): Promise<VerifiedQuote> {
  const format = (quote as { format?: unknown } | null)?.format
  const verifier = (p.verifiers ?? [simulatedQuoteVerifier()]).find((v) => v.format === format)
  if (!verifier) throw new QuoteVerificationError(`no verifier for quote format "${String(format)}"`, 'Pass a QuoteVerifier for this format.')
  const v = await verifier.verify(quote, { nonce: p.nonce })
  if (v.simulated && p.requireHardware) {
    throw new QuoteVerificationError('the quote is simulated', 'This container runs without a TEE; hardware attestation was required.')
  }
  if (p.expectedMeasurement && v.measurement !== p.expectedMeasurement) {
    throw new QuoteVerificationError(`measurement ${v.measurement} is not the expected ${p.expectedMeasurement}`)
  }
  return v
}
