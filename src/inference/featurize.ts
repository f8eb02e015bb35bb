import { asciiLower, codePoints, fnv1a32, tokenize } from './text.js'

/**
 * The moderation model's featurizer ("hashed-ngrams-v1"), identical to
 * models/moderation/build.py: ASCII-lowercase the first `maxChars` code points, collapse
 * whitespace, pad with one space each side, count character 3- and 4-grams ("c3:abc") and
 * word tokens ("w:abc") into `dim` buckets by FNV-1a 32. The graph does the rest (log1p,
 * L2 normalisation), so these integer counts are all the two languages must agree on.
 */
export type HashedNgramSpec = { dim: number; maxChars: number; charNgrams: readonly number[] }

export const MODERATION_FEATURIZER: HashedNgramSpec = { dim: 4096, maxChars: 2000, charNgrams: [3, 4] }

const WS = /[ \t\n\r\f\v]+/

export function moderationFeatures(text: string, spec: HashedNgramSpec = MODERATION_FEATURIZER): string[] {
  const lowered = asciiLower(codePoints(text).slice(0, spec.maxChars).join(''))
  const words = lowered.split(WS).filter((w) => w.length > 0)
  const cps = codePoints(` ${words.join(' ')} `)
  const out: string[] = []
  for (const n of spec.charNgrams) {
    for (let i = 0; i + n <= cps.length; i++) out.push(`c${n}:${cps.slice(i, i + n).join('')}`)
  }
  for (const tok of tokenize(cps.join(''))) out.push(`w:${tok}`)
  return out
}

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193
const utf8 = new TextEncoder()

/** FNV-1a 32 continued over bytes. */
function fnvBytes(h: number, bytes: ArrayLike<number>): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME) >>> 0
  return h
}

/**
 * The counts of {@link moderationFeatures}, hashed as they are read instead of built as
 * strings: each character n-gram's FNV-1a runs on from the hash of its prefix ("c3:") over
 * its code points' UTF-8 bytes — the same bytes, so the same buckets (the fixtures test
 * holds it to the Python twin).
 */
export function featurizeModeration(text: string, spec: HashedNgramSpec = MODERATION_FEATURIZER): Float32Array {
  const counts = new Float32Array(spec.dim)
  const lowered = asciiLower(codePoints(text).slice(0, spec.maxChars).join(''))
  const words = lowered.split(WS).filter((w) => w.length > 0)
  const padded = ` ${words.join(' ')} `
  const cps = codePoints(padded)
  const bytes = cps.map((c) => (c.charCodeAt(0) < 0x80 ? [c.charCodeAt(0)] : [...utf8.encode(c)]))
  for (const n of spec.charNgrams) {
    const prefix = fnvBytes(FNV_OFFSET, utf8.encode(`c${n}:`))
    for (let i = 0; i + n <= cps.length; i++) {
      let h = prefix
      for (let j = i; j < i + n; j++) h = fnvBytes(h, bytes[j]!)
      counts[h % spec.dim]! += 1
    }
  }
  for (const tok of tokenize(padded)) counts[fnv1a32(`w:${tok}`) % spec.dim]! += 1
  return counts
}
