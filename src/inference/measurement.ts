import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Hash, hashJson, sha256Hex } from './hash.js'

/**
 * The container's measurement: what a TEE would measure at launch, computed here from
 * the same ingredients. A receipt carries it, so a verifier knows which build, models,
 * runtime and settings produced an answer.
 */
export type MeasurementInputs = {
  kind: 'covenant-inference-container/v1'
  /** sha256 over the container's source files (src/inference, without tests), see serverBuildHash. */
  serverBuild: Hash
  node: string
  models: Array<{ name: string; digest: Hash }>
  runtime: { name: string; version: string }
  settings: Record<string, string | number | boolean>
}

export function computeMeasurement(inputs: MeasurementInputs): Hash {
  return hashJson(inputs)
}

const SOURCE_DIR = fileURLToPath(new URL('.', import.meta.url))

let buildHash: Hash | undefined

/** sha256 of the canonical JSON list [[file, sha256(bytes)], …] of src/inference/*.ts except tests. */
export function serverBuildHash(): Hash {
  buildHash ??= hashJson(
    readdirSync(SOURCE_DIR)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('_'))
      .sort()
      .map((f) => [f, sha256Hex(readFileSync(`${SOURCE_DIR}${f}`))]),
  )
  return buildHash
}
