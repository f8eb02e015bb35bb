// Summary statistics shared by the bench scripts.

export type Summary = { n: number; median: number; min: number; max: number; p90: number }

/** The value at quantile q (0…1) of an ascending list (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

/** n, median, min, max and p90 of some samples, rounded to `digits` decimals. */
export function summarize(samples: readonly number[], digits = 1): Summary {
  const s = [...samples].sort((a, b) => a - b)
  const r = (x: number) => Number(x.toFixed(digits))
  const mid = s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  return { n: s.length, median: r(mid), min: r(s[0] ?? Number.NaN), max: r(s.at(-1) ?? Number.NaN), p90: r(quantile(s, 0.9)) }
}
