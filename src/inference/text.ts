/**
 * Text handling shared by the shipped models' featurizers. A byte-for-byte twin of
 * models/lib/covenant_text.py: the models were trained on the Python side's features, so
 * any difference here would silently change predictions. The fixtures written by the
 * build scripts pin both sides (featurize.test.ts, chatPrompt.test.ts).
 */

const encoder = new TextEncoder()

/** FNV-1a 32-bit over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5
  // ASCII (every feature of plain-English text): its UTF-8 bytes are its char codes, no encoding
  let i = 0
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x80) break
    h ^= c
    h = Math.imul(h, 0x01000193) >>> 0
  }
  if (i === text.length) return h >>> 0
  h = 0x811c9dc5
  for (const b of encoder.encode(text)) {
    h ^= b
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

// ASCII classes only, and the `u` flag so a symbol outside the BMP is one token, as in Python.
const TOKEN_RE = /[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?|[^ \t\n\r\f\vA-Za-z0-9]/gu

/** Words, numbers and identifiers (with inner `.`, `_`, `-`) stay whole; other symbols are single tokens; whitespace is dropped. */
export function tokenize(text: string): string[] {
  return text.match(TOKEN_RE) ?? []
}

/** Tokens with their start offsets (for rebuilding spacing). */
export function tokenSpans(text: string): Array<{ token: string; start: number; end: number }> {
  return [...text.matchAll(TOKEN_RE)].map((m) => ({ token: m[0], start: m.index, end: m.index + m[0].length }))
}

/** Lowercases A–Z only (Unicode case mapping differs between languages). */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32))
}

/** Character classes with runs collapsed: `INV-2041` → `A-9`. */
export function shape(token: string): string {
  let out = ''
  let last = ''
  for (const ch of token) {
    const c = ch >= 'A' && ch <= 'Z' ? 'A' : ch >= 'a' && ch <= 'z' ? 'a' : ch >= '0' && ch <= '9' ? '9' : ch
    if (c !== last) out += c
    last = c
  }
  return out
}

/** The code points of a string (Python's `list(text)`). */
export function codePoints(text: string): string[] {
  return Array.from(text)
}
