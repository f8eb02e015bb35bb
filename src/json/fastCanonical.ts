/**
 * The fast pass of canonical JSON (sorted keys by UTF-16 code units, no whitespace, strings
 * as `JSON.stringify` writes them, numbers as ECMAScript writes them, `-0` as `0`), shared by
 * the trace's encoding (src/trace/canonical.ts) and inference hashing (src/inference/hash.ts),
 * whose rules differ only where {@link FastCanonicalRules} says.
 *
 * It keeps none of a careful encoder's bookkeeping (a path trail, a set of ancestors for
 * cycles, a pieces array): anything it is not sure of throws {@link FAST_REFUSED} — a value
 * with no JSON form, an array hole (read as undefined), nesting past `maxDepth` (which a
 * cycle reaches) — and the caller's careful pass then runs and names the problem. For the
 * values both accept, the two write the same string (each caller's tests check it).
 */
export const FAST_REFUSED: unique symbol = Symbol('refused')

export type FastCanonicalRules = {
  /** Nesting at which it gives up. */
  maxDepth: number
  /** bigints written as decimal strings (the trace), or refused (inference). */
  bigints: boolean
  /** Object members whose value is undefined left out (inference), or refused (the trace). */
  dropUndefined: boolean
  /** Objects with symbol keys refused (the trace), or their symbols ignored as `Object.keys` does (inference). */
  refuseSymbolKeys: boolean
}

export function fastCanonical(value: unknown, rules: FastCanonicalRules, depth = 0): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      if (!Number.isFinite(value)) throw FAST_REFUSED
      // ECMAScript's Number::toString, as JSON.stringify writes numbers (-0 as 0)
      return String(value)
    case 'bigint':
      if (!rules.bigints) throw FAST_REFUSED
      return `"${value.toString(10)}"`
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      break
    default:
      throw FAST_REFUSED
  }
  if (value === null) return 'null'
  if (depth >= rules.maxDepth) throw FAST_REFUSED
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + fastCanonical(value[i], rules, depth + 1)
    return `${out}]`
  }
  const proto = Object.getPrototypeOf(value)
  if ((proto !== Object.prototype && proto !== null) || (rules.refuseSymbolKeys && Object.getOwnPropertySymbols(value).length > 0)) throw FAST_REFUSED
  const keys = Object.keys(value).sort()
  let out = '{'
  for (const key of keys) {
    const member = (value as Record<string, unknown>)[key]
    if (member === undefined && rules.dropUndefined) continue
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${fastCanonical(member, rules, depth + 1)}`
  }
  return `${out}}`
}
