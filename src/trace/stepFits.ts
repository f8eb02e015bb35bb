/**
 * A fast, conservative twin of `stepSchema` for the steps this process builds itself.
 *
 * `stepFitsSchema(step)` returning true promises that `stepSchema` accepts the step and
 * hands back an equal value (nothing stripped or coerced); false promises nothing — the
 * caller then runs the schema, which decides and says why. So a case this file does not
 * know (a null-prototype object, a `__proto__` key, a bigint inside JSON, a field zod would
 * strip) costs time, never correctness. stepFits.test.ts checks the promise against the
 * schema on valid, mutated and random steps. It restates schemas.ts (and the replay record
 * of src/inference/schemas.ts) by hand: a limit added there must be added here too, or this
 * would vouch for a step the schema refuses.
 *
 * Why: the schema must still run on built steps (they carry what a model, a tool or a user
 * produced, whose limits the types cannot say), but zod's general machinery is the larger
 * part of an append's CPU on the agent's path, where these checks are a few comparisons.
 *
 * It assumes what `canonicalStepTexts` checks first: the step is JSON (finite numbers, no
 * undefined, plain objects and dense arrays, no cycles, depth ≤ 64).
 */

const DECIMAL = /^(0|[1-9][0-9]{0,77})$/
const UINT256_MAX = 2n ** 256n - 1n
const HEX32 = /^0x[0-9a-f]{64}$/
const ADDRESS_LOWER = /^0x[0-9a-f]{40}$/
const ADDRESS_ANY_CASE = /^0x[0-9a-fA-F]{40}$/
const HEX_BYTES = /^0x(?:[0-9a-f]{2})*$/
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/

type Obj = Record<string, unknown>

export function stepFitsSchema(step: unknown): boolean {
  if (!isPlain(step)) return false
  const s = step as Obj
  if (!commonFits(s)) return false
  switch (s['kind']) {
    case 'input':
      return hasOnlyKeys(s, INPUT_KEYS) && jsonFits(s['task'])
    case 'output':
      return hasOnlyKeys(s, OUTPUT_KEYS) && jsonFits(s['result'])
    case 'wallet':
      return hasOnlyKeys(s, WALLET_KEYS) && walletFits(s)
    case 'tool':
      return hasOnlyKeys(s, TOOL_KEYS) && toolFits(s)
    case 'inference':
      return hasOnlyKeys(s, INFERENCE_KEYS) && recordFits(s['record'])
    default:
      return false
  }
}

const COMMON = ['kind', 'agentId', 'index', 'prevHash', 'actionId', 'timestamp']
const INPUT_KEYS = keySet([...COMMON, 'task'])
const OUTPUT_KEYS = keySet([...COMMON, 'result'])
const WALLET_KEYS = keySet([...COMMON, 'chainId', 'from', 'to', 'value', 'data', 'nonce', 'policyVersion'])
const TOOL_KEYS = keySet([...COMMON, 'tool', 'args', 'outcome'])
const INFERENCE_KEYS = keySet([...COMMON, 'record'])

function commonFits(s: Obj): boolean {
  return uint256Fits(s['agentId']) && safeUint(s['index']) && hexFits(s['prevHash'], HEX32) && stringFits(s['actionId'], 1, 256) && safeUint(s['timestamp'])
}

function walletFits(s: Obj): boolean {
  const v = s['policyVersion']
  return (
    uint256Fits(s['chainId']) &&
    hexFits(s['from'], ADDRESS_LOWER) &&
    hexFits(s['to'], ADDRESS_LOWER) &&
    uint256Fits(s['value']) &&
    hexFits(s['data'], HEX_BYTES) &&
    safeUint(s['nonce']) &&
    typeof v === 'number' &&
    Number.isInteger(v) &&
    v >= 0 &&
    v <= 2 ** 32 - 1
  )
}

function toolFits(s: Obj): boolean {
  if (!stringFits(s['tool'], 1, 256)) return false
  const args = s['args']
  if (!isPlain(args)) return false
  for (const k of Object.keys(args as Obj)) if (k === '__proto__' || !jsonFits((args as Obj)[k])) return false
  const outcome = s['outcome']
  if (!isPlain(outcome)) return false
  const o = outcome as Obj
  const reads = o['reads']
  if (reads !== undefined && !readsFit(reads)) return false
  if (o['status'] === 'ok') return hasOnlyKeys(o, OK_KEYS, OK_REQUIRED) && jsonFits(o['result'])
  if (o['status'] === 'error') return hasOnlyKeys(o, ERROR_KEYS, ERROR_REQUIRED) && errorFits(o['error'])
  return false
}
const OK_KEYS = keySet(['status', 'result', 'reads'])
const OK_REQUIRED = 2
const ERROR_KEYS = keySet(['status', 'error', 'reads'])
const ERROR_REQUIRED = 2
const READ_VALUE_KEYS = keySet(['label', 'value'])
const READ_ERROR_KEYS = keySet(['label', 'error'])
const ERROR_FIELD_KEYS = keySet(['name', 'message'])

function readsFit(reads: unknown): boolean {
  if (!Array.isArray(reads) || reads.length < 1 || reads.length > 64) return false
  for (const r of reads) {
    if (!isPlain(r) || !stringFits((r as Obj)['label'], 1, 128)) return false
    if ('value' in (r as Obj)) {
      if (!hasOnlyKeys(r as Obj, READ_VALUE_KEYS) || !jsonFits((r as Obj)['value'])) return false
    } else if (!hasOnlyKeys(r as Obj, READ_ERROR_KEYS) || !errorFits((r as Obj)['error'])) return false
  }
  return true
}

function errorFits(e: unknown): boolean {
  return isPlain(e) && hasOnlyKeys(e as Obj, ERROR_FIELD_KEYS) && stringFits((e as Obj)['name'], 0, 256) && stringFits((e as Obj)['message'], 0, 65_536)
}

// ------------------------------------------------------------------ the replay record
// replayRecordSchema's objects are not strict: zod strips keys they do not define, so any
// other key sends the step to the schema (which then refuses it as "dropped").

const RECORD_KEYS = keySet(
  ['backend', 'modelDigest', 'runtime', 'replay', 'request', 'response', 'inputHash', 'outputHash', 'timing', 'format', 'model', 'endpoint', 'receipt', 'requestBody'],
)
const RECORD_REQUIRED = ['backend', 'modelDigest', 'runtime', 'replay', 'request', 'response', 'inputHash', 'outputHash', 'timing']
const RUNTIME_KEYS = keySet(['name', 'version', 'settings'])
const TIMING_KEYS = keySet(['startedAt', 'durationMs'])
const MODEL_KEYS = keySet(['name', 'digestOf'])
const ENDPOINT_KEYS = keySet(['url', 'signer', 'measurement', 'quote'])
const RECEIPT_KEYS = keySet(['version', 'scheme', 'signer', 'measurement', 'modelDigest', 'requestHash', 'responseHash', 'outputHash', 'issuedAt', 'signature'])
const REPLAY_MODES = new Set(['exact', 'tolerance', 'attested', 'none'])

function recordFits(record: unknown): boolean {
  if (!isPlain(record)) return false
  const r = record as Obj
  if (!hasOnlyKeys(r, RECORD_KEYS, RECORD_REQUIRED.length)) return false
  for (const k of RECORD_REQUIRED) if (!(k in r)) return false
  if (r['backend'] !== 'onnx' && r['backend'] !== 'openai-compatible') return false
  if (!hexFits(r['modelDigest'], HEX32) || !hexFits(r['inputHash'], HEX32) || !hexFits(r['outputHash'], HEX32)) return false
  if (!REPLAY_MODES.has(r['replay'] as string)) return false
  // request and response are z.unknown(): any JSON, kept as it is
  const runtime = r['runtime']
  if (!isPlain(runtime) || !hasOnlyKeys(runtime as Obj, RUNTIME_KEYS, 3)) return false
  const rt = runtime as Obj
  if (typeof rt['name'] !== 'string' || typeof rt['version'] !== 'string' || !isPlain(rt['settings'])) return false
  for (const [k, v] of Object.entries(rt['settings'] as Obj)) {
    if (k === '__proto__' || (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')) return false
  }
  const timing = r['timing']
  if (!isPlain(timing) || !hasOnlyKeys(timing as Obj, TIMING_KEYS, 2)) return false
  if (typeof (timing as Obj)['startedAt'] !== 'number' || typeof (timing as Obj)['durationMs'] !== 'number') return false
  if ('format' in r && r['format'] !== 'tensors-v1' && r['format'] !== 'chat-completions-v1') return false
  if ('model' in r && !modelFits(r['model'])) return false
  if ('endpoint' in r && !endpointFits(r['endpoint'])) return false
  if ('receipt' in r && !receiptFits(r['receipt'])) return false
  if ('requestBody' in r && !stringFits(r['requestBody'], 0, 4 * 1024 * 1024)) return false
  return true
}

function modelFits(m: unknown): boolean {
  if (!isPlain(m) || !hasOnlyKeys(m as Obj, MODEL_KEYS, 2)) return false
  const { name, digestOf } = m as Obj
  return typeof name === 'string' && (digestOf === 'model-bytes' || digestOf === 'endpoint-and-name')
}

function endpointFits(e: unknown): boolean {
  if (!isPlain(e) || !hasOnlyKeys(e as Obj, ENDPOINT_KEYS, 1)) return false
  const o = e as Obj
  if (typeof o['url'] !== 'string') return false
  if ('signer' in o && !hexFits(o['signer'], ADDRESS_ANY_CASE)) return false
  if ('measurement' in o && !hexFits(o['measurement'], HEX32)) return false
  if ('quote' in o && o['quote'] !== 'simulated' && o['quote'] !== 'hardware' && o['quote'] !== 'none') return false
  return true
}

function receiptFits(receipt: unknown): boolean {
  if (!isPlain(receipt) || !hasOnlyKeys(receipt as Obj, RECEIPT_KEYS, 10)) return false
  const r = receipt as Obj
  return (
    r['version'] === 1 &&
    r['scheme'] === 'eip712' &&
    hexFits(r['signer'], ADDRESS_ANY_CASE) &&
    hexFits(r['measurement'], HEX32) &&
    hexFits(r['modelDigest'], HEX32) &&
    hexFits(r['requestHash'], HEX32) &&
    hexFits(r['responseHash'], HEX32) &&
    hexFits(r['outputHash'], HEX32) &&
    safeUint(r['issuedAt']) &&
    hexFits(r['signature'], SIGNATURE)
  )
}

// ------------------------------------------------------------------ leaves

function keySet(keys: string[]): ReadonlySet<string> {
  return new Set(keys)
}

/** Only keys of `allowed`, and at least `required` of them (all of them by default). */
function hasOnlyKeys(o: Obj, allowed: ReadonlySet<string>, required = allowed.size): boolean {
  const keys = Object.keys(o)
  if (keys.length < required || keys.length > allowed.size) return false
  for (const k of keys) if (!allowed.has(k)) return false
  return true
}

/** An object with Object.prototype itself as its prototype (what zod's record and object checks accept without doubt). */
function isPlain(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype
}

function stringFits(v: unknown, min: number, max: number): boolean {
  return typeof v === 'string' && v.length >= min && v.length <= max
}

function hexFits(v: unknown, re: RegExp): boolean {
  return typeof v === 'string' && re.test(v)
}

function safeUint(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function uint256Fits(v: unknown): boolean {
  return typeof v === 'string' && DECIMAL.test(v) && (v.length < 78 || BigInt(v) <= UINT256_MAX)
}

/**
 * What z.json() accepts without changing it: strings, finite numbers, booleans, null,
 * arrays and plain objects of them (the canonical pass has ruled out the rest, except
 * bigints, which z.json() refuses, and `__proto__` keys, which it would turn into a prototype).
 */
function jsonFits(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
      return true
    case 'object':
      break
    default:
      return false
  }
  if (v === null) return true
  if (Array.isArray(v)) {
    for (const x of v) if (!jsonFits(x)) return false
    return true
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return false
  for (const k in v) {
    if (!Object.hasOwn(v, k)) return false // an inherited enumerable key: leave it to the schema
    if (k === '__proto__' || !jsonFits((v as Obj)[k])) return false
  }
  return true
}
