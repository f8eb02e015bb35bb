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

/** The container's code as it runs: TypeScript sources (tsx, vitest) or the built `.js` (dist/), never tests or declarations. */
const RUNNING_CODE = /^(?!_)(?!.*\.test\.[jt]s$)(?!.*\.d\.ts$).*\.[jt]s$/

/**
 * sha256 of the canonical JSON list [[file, sha256(bytes)], …] of the inference folder's code
 * (src/inference/*.ts, or dist/src/inference/*.js in the built package) except tests: the
 * build that runs, so a checkout and an installed package are different builds.
 */
export function serverBuildHash(): Hash {
  buildHash ??= hashJson(
    readdirSync(SOURCE_DIR)
      .filter((f) => RUNNING_CODE.test(f))
      .sort()
      .map((f) => [f, sha256Hex(readFileSync(`${SOURCE_DIR}${f}`))]),
  )
  return buildHash
}
