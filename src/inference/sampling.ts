import { createHash } from 'node:crypto'

/**
 * Token choice for causal LMs, written so a replay makes the same choice bit for bit:
 * - greedy (temperature 0): the largest logit, the lowest id on ties;
 * - seeded sampling: softmax(logits / temperature) in float64, optional nucleus (top_p:
 *   ids sorted by probability, then by id, kept until the mass reaches top_p), and one
 *   uniform draw per step from our own PRNG: the first 53 bits of
 *   sha256("covenant-sampling-v1:" + seed + ":" + step). No Math.random, no library RNG:
 *   the stream is the same in every process, on every machine, for every Node version.
 *
 * Math.exp is the only libm call; V8 implements it itself (fdlibm port), so it does not
 * vary with the platform's libm.
 */
export type SamplingParameters = { temperature: number; topP: number; seed: number }

export function argmaxFirst(xs: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i
  return best
}

/** The PRNG: a uniform number in [0, 1) for (seed, step). */
export function uniformAt(seed: number, step: number): number {
  const d = createHash('sha256').update(`covenant-sampling-v1:${seed}:${step}`).digest()
  // 53 bits: 21 from the first word, 32 from the second
  return ((d.readUInt32BE(0) >>> 11) * 2 ** 32 + d.readUInt32BE(4)) / 2 ** 53
}

/** Chooses the next token from `logits`; `allowed` (if given) masks the vocabulary. */
export function chooseToken(logits: Float32Array, p: SamplingParameters, step: number, allowed?: (id: number) => boolean): number {
  const ids: number[] = []
  for (let i = 0; i < logits.length; i++) if (!allowed || allowed(i)) ids.push(i)
  if (ids.length === 0) throw new RangeError('no token is allowed at this step')
  if (p.temperature === 0) {
    let best = ids[0]!
    for (const i of ids) if (logits[i]! > logits[best]!) best = i
    return best
  }
  let max = Number.NEGATIVE_INFINITY
  for (const i of ids) max = Math.max(max, logits[i]! / p.temperature)
  const probs = ids.map((i) => Math.exp(logits[i]! / p.temperature - max))
  const total = probs.reduce((a, b) => a + b, 0)
  let order = ids.map((id, k) => ({ id, q: probs[k]! / total }))
  if (p.topP < 1) {
    order.sort((a, b) => b.q - a.q || a.id - b.id)
    const kept: typeof order = []
    let mass = 0
    for (const o of order) {
      kept.push(o)
      mass += o.q
      if (mass >= p.topP) break
    }
    order = kept
  }
  const mass = order.reduce((a, o) => a + o.q, 0)
  const u = uniformAt(p.seed, step) * mass
  let acc = 0
  for (const o of order) {
    acc += o.q
    if (u < acc) return o.id
  }
  return order.at(-1)!.id
}

/** log-softmax of one row of logits (float64), for OpenAI logprobs. */
export function logSoftmax(logits: Float32Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY
  for (const x of logits) max = Math.max(max, x)
  let sum = 0
  for (const x of logits) sum += Math.exp(x - max)
  const lse = max + Math.log(sum)
  return Float64Array.from(logits, (x) => x - lse)
}
