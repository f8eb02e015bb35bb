import { readFileSync, readdirSync } from 'node:fs'
import { expect, test } from 'vitest'
import * as da from './index.js'

test('the public API', () => {
  expect(Object.keys(da).sort()).toMatchInlineSnapshot(`
    [
      "AllDAClientsFailedError",
      "BlobCorruptedError",
      "BlobNotFoundError",
      "BlobTooLargeError",
      "DARequestRejectedError",
      "DAResponseError",
      "DAServerListenError",
      "DAUnavailableError",
      "EIGENDA_DA_LAYER",
      "EigenDAProxyClient",
      "FailoverDAClient",
      "InvalidCommitmentError",
      "InvalidDAOptionError",
      "KeccakCommitmentMismatchError",
      "LOCAL_COMMITMENT_BYTES",
      "LOCAL_COMMITMENT_VERSION",
      "LocalDAStore",
      "MAX_BLOB_BYTES",
      "MAX_BLOB_LENGTH",
      "MAX_COMMITMENT_BYTES",
      "MAX_REQUEST_BODY_BYTES",
      "OP_GENERIC_COMMITMENT_TYPE",
      "OP_KECCAK_COMMITMENT_TYPE",
      "commitmentMatches",
      "commitmentToHex",
      "createDAApp",
      "encodedBlobLength",
      "fromGenericCommitment",
      "isLocalCommitment",
      "keccakCommitment",
      "localCommitment",
      "localCommitmentOf",
      "matchesLocalCommitment",
      "maxPayloadBytes",
      "parseCommitment",
      "startDAServer",
      "toGenericCommitment",
    ]
  `)
})

test('src/da takes only types from src/trace and nothing from later rooms', () => {
  const dir = new URL('./', import.meta.url)
  const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('_'))
  for (const file of sources) {
    const text = readFileSync(new URL(file, dir), 'utf8')
    for (const m of text.matchAll(/\bimport\s+(type\s+)?[^;]*?from\s+'([^']+)'/gs)) {
      const [, typeOnly, spec] = m as unknown as [string, string | undefined, string]
      if (spec.startsWith('../trace/')) expect(typeOnly, `${file} imports values from ${spec}`).toBeTruthy()
      else expect(/^(\.\/|\.\.\/errors\/|\.\.\/http\/|\.\.\/fs\/|node:|viem$|hono(\/.*)?$|@hono\/node-server$)/.test(spec), `${file} imports ${spec}`).toBe(true)
    }
    // loaded when first needed (the kernel lock on a segment a put writes): a reader never loads the addon
    for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) expect(m[1], `${file} imports ${m[1]}`).toBe('fs-native-extensions')
  }
})
