import { canonicalRequest } from './hash.js'

/**
 * The form in which a chat model reads a request: a pure function of the request's
 * canonical JSON, the bytes `requestHash` is taken over. So one signed request hash is one
 * prompt, however the client ordered its keys (issue #13: one hash came with different
 * payments for different key orders).
 *
 * Canonical JSON sorts object keys; a tool's properties are then laid out for the model
 * with the `required` ones first, in the order of the `required` array (arrays keep their
 * order in canonical JSON, so this order is part of what the hash covers), and the rest in
 * canonical order. Chat models are trained on tool schemas written by people, who list
 * required parameters first; pure key order would scramble them.
 */
export function chatRequestForModel<T>(request: T): T {
  const c = canonicalRequest(request) as unknown
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return c as T
  const tools = (c as { tools?: unknown }).tools
  if (Array.isArray(tools)) for (const tool of tools) orderProperties(tool)
  return c as T
}

function orderProperties(tool: unknown): void {
  const params = (tool as { function?: { parameters?: unknown } } | null)?.function?.parameters
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return
  const p = params as { properties?: unknown; required?: unknown }
  const props = p.properties
  if (typeof props !== 'object' || props === null || Array.isArray(props)) return
  const all = props as Record<string, unknown>
  const required = Array.isArray(p.required) ? p.required.filter((k): k is string => typeof k === 'string' && Object.hasOwn(all, k)) : []
  const ordered: Record<string, unknown> = {}
  for (const k of required) if (!Object.hasOwn(ordered, k)) ordered[k] = all[k]
  for (const k of Object.keys(all)) if (!Object.hasOwn(ordered, k)) ordered[k] = all[k]
  p.properties = ordered
}
