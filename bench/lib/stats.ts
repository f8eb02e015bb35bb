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

/** The median of some samples (the mean of the two middle ones for an even count). */
export function median(samples: readonly number[]): number {
  const s = [...samples].sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/**
 * A ratio with its spread: the median of paired ratios (each arm's sample against the
 * baseline's taken next to it, so a load change hits both), a 95 % bootstrap interval of
 * that median (2,000 resamples, a fixed seed: the same samples give the same interval), and
 * the 10th–90th percentiles of the ratios themselves.
 */
export type RatioSummary = { n: number; median: number; ci95: [number, number]; p10: number; p90: number }

export function pairedRatios(arm: readonly number[], baseline: readonly number[], digits = 3): RatioSummary {
  const n = Math.min(arm.length, baseline.length)
  const ratios: number[] = []
  for (let i = 0; i < n; i++) if (baseline[i]! > 0) ratios.push(arm[i]! / baseline[i]!)
  return ratioSummary(ratios, digits)
}

/** {@link RatioSummary} of ratios already paired. */
export function ratioSummary(ratios: readonly number[], digits = 3): RatioSummary {
  const r = (x: number) => Number(x.toFixed(digits))
  const sorted = [...ratios].sort((a, b) => a - b)
  const boot: number[] = []
  let seed = 0x9e3779b9
  const rand = () => {
    // xorshift32: a fixed stream, so the interval is reproducible
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 2 ** 32
  }
  if (sorted.length > 0) {
    for (let b = 0; b < 2000; b++) {
      const sample: number[] = []
      for (let i = 0; i < sorted.length; i++) sample.push(sorted[Math.floor(rand() * sorted.length)]!)
      boot.push(median(sample))
    }
  }
  boot.sort((a, b) => a - b)
  return {
    n: sorted.length,
    median: r(median(sorted)),
    ci95: [r(quantile(boot, 0.025)), r(quantile(boot, 0.975))],
    p10: r(quantile(sorted, 0.1)),
    p90: r(quantile(sorted, 0.9)),
  }
}

/** `1.23× (95 % CI 1.10–1.31, n 100)` */
export function formatRatio(s: RatioSummary | undefined): string {
  if (!s || !Number.isFinite(s.median)) return '—'
  return `${s.median}× (95 % CI ${s.ci95[0]}–${s.ci95[1]}, n ${s.n})`
}
