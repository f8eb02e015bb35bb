import { readFileSync, readdirSync } from 'node:fs'
import { expect, test } from 'vitest'
import * as trace from './index.js'

test('the public API', () => {
  expect(Object.keys(trace).sort()).toMatchInlineSnapshot(`
    [
      "BatchTooLargeError",
      "CanonicalDecodingError",
      "CanonicalEncodingError",
      "InvalidStepError",
      "MAX_BATCH_BYTES",
      "MAX_JSON_DEPTH",
      "MAX_PROOF_LENGTH",
      "MAX_WAL_RECORD_BYTES",
      "MerkleInputError",
      "ProcessLock",
      "STEP_KINDS",
      "STEP_TYPEHASH",
      "TraceChain",
      "TraceChainError",
      "TraceWal",
      "WALLET_TX_TYPEHASH",
      "WalAppendError",
      "WalCorruptedError",
      "WalCursorError",
      "WalLockedError",
      "ZERO_HASH",
      "addressSchema",
      "batchRoot",
      "batchSchema",
      "buildMerkleTree",
      "bytes32Schema",
      "canonicalBytes",
      "canonicalize",
      "committedCursorSchema",
      "decodeBatch",
      "decodeStep",
      "encodeBatch",
      "encodeStep",
      "encodeWalRecord",
      "genesisHead",
      "hexBytesSchema",
      "inferenceStepSchema",
      "initialCursor",
      "inputStepSchema",
      "jsonValueSchema",
      "leafHash",
      "linkStep",
      "merkleProof",
      "merkleRoot",
      "outputStepSchema",
      "parseCanonical",
      "processMerkleProof",
      "readWalFile",
      "safeUintSchema",
      "scanWal",
      "splitIntoBatches",
      "stepLeaf",
      "stepPayload",
      "stepPayloadHash",
      "stepSchema",
      "toolOutcomeSchema",
      "toolStepSchema",
      "uint256StringSchema",
      "verifyChain",
      "verifyMerkleProof",
      "walPaths",
      "walletPayloadHash",
      "walletStepSchema",
      "writeFileAtomic",
    ]
  `)
})

test('src/trace imports nothing downstream of it (agent, wallet, da, bonds, verify, service, cli)', () => {
  const dir = new URL('./', import.meta.url)
  const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  for (const file of sources) {
    const text = readFileSync(new URL(file, dir), 'utf8')
    for (const [, spec] of text.matchAll(/\bfrom\s+'([^']+)'/g)) {
      const ok = /^(\.\/|\.\.\/(errors|inference|fs|json)\/|node:|viem$|zod$|hash-wasm$|fs-native-extensions$)/.test(spec as string)
      expect(ok, `${file} imports ${spec}`).toBe(true)
    }
  }
})
