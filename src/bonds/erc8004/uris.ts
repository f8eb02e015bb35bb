import { getAddress, keccak256, stringToBytes, type Address, type Hex } from 'viem'
import { InvalidCovenantUriError } from './errors.js'

/**
 * The `covenant:` URIs Covenant writes into the ERC-8004 registries (README "URIs"):
 *
 * | URI | names |
 * |---|---|
 * | `covenant:action/<actionId>?validator=<address>` | a validation request: the action, and the validator asked (requestURI) |
 * | `covenant:action/<actionId>` | the action a response is about (responseURI of a response no dispute decided) |
 * | `covenant:dispute/<disputeId>` | a DisputeGame dispute of the same deployment (responseURI of a response a dispute decided) |
 * | `covenant-da:0x<commitment>` | a blob on the deployment's DA layer (eigenda-proxy: `GET <da>/get/0x<commitment>?commitment_mode=standard`) |
 *
 * A request's `requestHash` is the keccak256 of its requestURI's UTF-8 bytes: the request
 * payload is the URI itself, so anyone can check the hash, and one action asked of two
 * validators gives two requests.
 */

/** An action id as it may appear in a URI: RFC 3986 unreserved characters, 1 to 128. */
const ACTION_ID = /^[A-Za-z0-9._~-]{1,128}$/
const REQUEST = /^covenant:action\/([A-Za-z0-9._~-]{1,128})\?validator=(0x[0-9a-f]{40})$/
const ACTION = /^covenant:action\/([A-Za-z0-9._~-]{1,128})$/
const DISPUTE = /^covenant:dispute\/([1-9][0-9]{0,77})$/
const DA = /^covenant-da:(0x(?:[0-9a-f]{2}){1,8192})$/

/** The tags of Covenant's validation responses: soft while a dispute can still change the answer, final after. */
export const VALIDATION_TAGS = { soft: 'bond-backed:soft', final: 'bond-backed:final' } as const
export type ValidationTag = (typeof VALIDATION_TAGS)[keyof typeof VALIDATION_TAGS]

function assertActionId(actionId: string): void {
  if (typeof actionId !== 'string' || !ACTION_ID.test(actionId)) {
    throw new InvalidCovenantUriError(String(actionId), 'an action id for a URI (1 to 128 letters, digits, ".", "_", "~" or "-")')
  }
}

/** `covenant:action/<actionId>?validator=<lowercase address>`: the requestURI asking `validator` to validate an action. */
export function validationRequestURI(actionId: string, validator: Address): string {
  assertActionId(actionId)
  return `covenant:action/${actionId}?validator=${getAddress(validator).toLowerCase()}`
}

/** The requestHash of a requestURI: keccak256 of its UTF-8 bytes. */
export function requestHashOf(requestURI: string): Hex {
  return keccak256(stringToBytes(requestURI))
}

/** The action and validator a requestURI names, or undefined when it is not a Covenant request. */
export function parseValidationRequestURI(uri: string): { actionId: string; validator: Address } | undefined {
  const m = typeof uri === 'string' ? REQUEST.exec(uri) : null
  return m ? { actionId: m[1]!, validator: getAddress(m[2]!) } : undefined
}

/** `covenant:action/<actionId>`. */
export function actionURI(actionId: string): string {
  assertActionId(actionId)
  return `covenant:action/${actionId}`
}

export function parseActionURI(uri: string): string | undefined {
  return (typeof uri === 'string' ? ACTION.exec(uri)?.[1] : undefined) ?? undefined
}

/** `covenant:dispute/<disputeId>` (ids start at 1). */
export function disputeURI(disputeId: bigint): string {
  if (typeof disputeId !== 'bigint' || disputeId < 1n) throw new InvalidCovenantUriError(String(disputeId), 'a dispute id (1 or more)')
  return `covenant:dispute/${disputeId}`
}

export function parseDisputeURI(uri: string): bigint | undefined {
  const m = typeof uri === 'string' ? DISPUTE.exec(uri) : null
  return m ? BigInt(m[1]!) : undefined
}

/** `covenant-da:0x<commitment>`: a blob on the deployment's DA layer. */
export function daURI(commitment: Hex): string {
  const uri = `covenant-da:${commitment.toLowerCase()}`
  if (!DA.test(uri)) throw new InvalidCovenantUriError(commitment, 'a DA commitment (1 to 8192 bytes of hex)')
  return uri
}

export function parseDaURI(uri: string): Hex | undefined {
  const m = typeof uri === 'string' ? DA.exec(uri) : null
  return m ? (m[1] as Hex) : undefined
}
