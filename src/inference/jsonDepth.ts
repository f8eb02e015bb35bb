/**
 * How deep the arrays and objects of a JSON text nest, read from the text itself (strings
 * skipped, escapes honoured) so that a body can be refused before it is parsed: parsing,
 * validating and hashing a value nested thousands deep recurses once per level and runs out
 * of stack. Stops counting past `limit` (the answer is then `limit + 1`). The text need not be
 * valid JSON: whatever is not refused here still goes through JSON.parse.
 */
export function jsonTextDepth(text: string, limit: number): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (inString) {
      if (ch === 0x5c /* \ */) i++
      else if (ch === 0x22 /* " */) inString = false
      continue
    }
    if (ch === 0x22) inString = true
    else if (ch === 0x5b /* [ */ || ch === 0x7b /* { */) {
      depth++
      if (depth > max) {
        max = depth
        if (max > limit) return limit + 1
      }
    } else if (ch === 0x5d /* ] */ || ch === 0x7d /* } */) depth--
  }
  return max
}
