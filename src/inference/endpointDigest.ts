import { type Hash, sha256Hex } from './hash.js'

/**
 * The digest that names a model Covenant cannot hash (a remote OpenAI-compatible
 * endpoint's): sha256("<baseURL>#<model>"), the base URL without credentials, query or
 * trailing slash, and the model name as the agent requests it. The agent manifest registers
 * it and every record of that endpoint carries it (`model.digestOf: "endpoint-and-name"`),
 * so both sides compute one value from what the agent declared.
 */
export function endpointModelDigest(baseURL: string, model: string): Hash {
  return sha256Hex(`${normalizeBaseURL(baseURL)}#${model}`)
}

/** Origin and path, no credentials, query or trailing slash. */
export function normalizeBaseURL(baseURL: string): string {
  try {
    const u = new URL(baseURL)
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`
  } catch {
    return '<invalid url>'
  }
}
