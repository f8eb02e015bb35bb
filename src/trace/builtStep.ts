import { canonicalStepTexts, decodeStep, formatIssues } from './canonical.js'
import { InvalidStepError } from './errors.js'
import { stepLeaf, stepLeafFromPayloadText } from './leaf.js'
import { type Step, stepSchema } from './schemas.js'
import { stepFitsSchema } from './stepFits.js'

/** A checked step with what the WAL writes and the committer commits: its canonical bytes and its leaf. */
export type EncodedStep = {
  step: Step
  /** The step's canonical bytes: the WAL record's payload and the step's text in a batch blob. */
  bytes: Uint8Array
  leaf: `0x${string}`
}

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

/**
 * Checks a step about to be written and encodes it, in one pass: the step is encoded once
 * (canonicalStepTexts; non-JSON values throw), the schema runs once (zod), and a walk that
 * stops at every value zod handed back unchanged checks that validation dropped nothing.
 * The leaf is hashed from the payload text of that same pass.
 *
 * The schema still holds for steps this process built: their shape is fixed by their types,
 * but they carry what a model, a tool or a user produced (a tool name, a task, a replay
 * record), whose limits the types cannot say, and a step the schema would refuse must never
 * reach the disk — recovery would then refuse the whole log. A step that `stepFitsSchema`
 * vouches for (the schema would accept it unchanged) skips zod; the rest run it. What this
 * saves, against `parseExact` + `stepLeaf`, is the second and third encoding of the step
 * and, for the usual steps, zod. The step returned then is the one given (zod's output is a
 * copy): callers do not change a step after appending it.
 */
export function encodeCheckedStep(step: Step, what = 'trace step'): EncodedStep {
  const { text, payloadText } = canonicalStepTexts(step)
  // the common case, decided by a few comparisons (stepFits.ts); anything it is not sure of
  // goes through the schema, which decides and says why
  if (stepFitsSchema(step)) return { step, bytes: utf8.encode(text), leaf: stepLeafFromPayloadText(step, payloadText) }
  const parsed = stepSchema.safeParse(step)
  if (!parsed.success) throw new InvalidStepError({ what, issues: formatIssues(parsed.error) })
  if (!sameJson(step, parsed.data)) throw new InvalidStepError({ what, issues: ['holds fields its schema does not define (they would be dropped)'] })
  return { step: parsed.data, bytes: utf8.encode(text), leaf: stepLeafFromPayloadText(parsed.data, payloadText) }
}

/** Whether validation kept every key and value (`b` is zod's output for the JSON value `a`). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const k of keys) {
    if (!Object.hasOwn(b, k) || !sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}

/**
 * Decodes and checks a step read back (from the WAL): what `decodeStep` then `stepLeaf` give,
 * in one pass for the usual step. Its text is parsed once and encoded once (canonicalStepTexts,
 * which gives the step's canonical text and its payload's); the bytes must be that text
 * exactly (canonical form), a step `stepFitsSchema` vouches for skips zod, and the leaf is
 * hashed from the payload text of the same pass. Where `decodeStep` alone re-encodes the step
 * twice (its canonical check, zod's output) and `stepLeaf` a third time. Anything else —
 * bytes that are not canonical JSON, a step the quick check is not sure of — goes through
 * `decodeStep`, which decides and throws its usual typed errors.
 */
export function decodeCheckedStep(bytes: Uint8Array): { step: Step; leaf: `0x${string}` } {
  let value: unknown
  let texts: { text: string; payloadText: string } | undefined
  try {
    const text = utf8Strict.decode(bytes)
    value = JSON.parse(text)
    const t = canonicalStepTexts(value as object)
    if (t.text === text) texts = t
  } catch {
    // not UTF-8, not JSON, not a plain object or not encodable: decodeStep says which
  }
  if (texts && stepFitsSchema(value)) return { step: value as Step, leaf: stepLeafFromPayloadText(value as Step, texts.payloadText) }
  const step = decodeStep(bytes)
  return { step, leaf: stepLeaf(step) }
}
