/**
 * Where a value sits in a JSON document, for error messages: the keys and indices from the
 * root, kept on one stack that a recursive writer pushes and pops, so no path string is
 * built unless a value is refused (the canonical JSON writers of src/trace and src/inference).
 */
export type JsonTrail = (string | number)[]

/** `$.a.b[2].c` for `['$', 'a', 'b', 2, 'c']`. */
export function jsonPathOf(trail: JsonTrail): string {
  let path = ''
  for (const step of trail) path += typeof step === 'number' ? `[${step}]` : path === '' ? step : `.${step}`
  return path
}
