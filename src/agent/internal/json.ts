import type { JsonValue } from '../../trace/schemas.js'

/**
 * Converts what a tool returned into a JSON value a trace step can hold: bigints become
 * decimal strings, Uint8Arrays 0x-hex, Dates milliseconds, `undefined` in objects is left
 * out and at the top becomes null. Anything else that is not plain JSON (functions, class
 * instances, NaN, cycles, nesting deeper than 64) throws with the path, so nothing is
 * silently dropped.
 */
export function toJsonValue(value: unknown, path = '$', depth = 0, seen = new Set<object>()): JsonValue {
  if (depth > 64) throw new TypeError(`${path}: nested deeper than 64 levels`)
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} is not a finite number`)
      return Object.is(value, -0) ? 0 : value
    case 'bigint':
      return value.toString(10)
    case 'undefined':
      return null
    case 'function':
    case 'symbol':
      throw new TypeError(`${path}: a ${typeof value} has no JSON form`)
  }
  if (value === null) return null
  const obj = value as object
  if (obj instanceof Uint8Array) return `0x${Buffer.from(obj).toString('hex')}`
  if (obj instanceof Date) return obj.getTime()
  if (seen.has(obj)) throw new TypeError(`${path}: the value contains itself`)
  seen.add(obj)
  try {
    if (Array.isArray(obj)) return obj.map((v, i) => toJsonValue(v, `${path}[${i}]`, depth + 1, seen))
    const proto = Object.getPrototypeOf(obj)
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? 'object'
      throw new TypeError(`${path}: a ${name} is not a plain object`)
    }
    const out: Record<string, JsonValue> = {}
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue
      out[k] = toJsonValue(v, `${path}.${k}`, depth + 1, seen)
    }
    return out
  } finally {
    seen.delete(obj)
  }
}

/**
 * The same JSON value with every object's keys in canonical (sorted) order. Tool schemas
 * are shown to the model in this order because the trace stores the request canonically:
 * a model that reads `properties` in order must see, on replay, exactly what it saw live.
 */
export function sortKeysDeep(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeysDeep)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, JsonValue> = {}
  for (const key of Object.keys(value).sort()) out[key] = sortKeysDeep(value[key] as JsonValue)
  return out
}
