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

export function featurizeModeration(text: string, spec: HashedNgramSpec = MODERATION_FEATURIZER): Float32Array {
  const counts = new Float32Array(spec.dim)
  for (const f of moderationFeatures(text, spec)) counts[fnv1a32(f) % spec.dim]! += 1
  return counts
}
