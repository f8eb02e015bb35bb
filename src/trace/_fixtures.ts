// Test fixtures for src/trace (not exported from index.ts): sample step bodies of every
// kind and a ready-made chain.
import type { Hex } from 'viem'
import type { ReplayRecord } from '../inference/schemas.js'
import { encodeStep } from './canonical.js'
import { TraceChain, genesisHead } from './chain.js'
import type { Step, StepBody } from './schemas.js'

export const AGENT_ID = '42'
export const T0 = 1_700_000_000_000

export const hash = (byte: number): Hex => `0x${byte.toString(16).padStart(2, '0').repeat(32)}` as Hex

export const replayRecord: ReplayRecord = {
  backend: 'onnx',
  modelDigest: hash(0xab),
  runtime: { name: 'onnxruntime-node', version: '1.30.0', settings: { threads: 1, deterministic: true, mode: 'cpu' } },
  replay: 'exact',
  request: { input: [1, 2, 3], shape: [1, 3] },
  response: { output: [0.25, -1.5e-7] },
  inputHash: hash(0x01),
  outputHash: hash(0x02),
  timing: { startedAt: T0, durationMs: 3.5 },
}

/** One body of each kind, in a plausible order for action `actionId`. */
export function sampleBodies(actionId = 'task-1', t = T0): StepBody[] {
  return [
    { kind: 'input', actionId, timestamp: t, task: { prompt: 'pay alice 1 gwei', budget: '1000000000' } },
    { kind: 'inference', actionId, timestamp: t + 1, record: replayRecord },
    {
      kind: 'tool',
      actionId,
      timestamp: t + 2,
      tool: 'lookupAddress',
      args: { name: 'alice' },
      outcome: { status: 'ok', result: { address: '0x00000000000000000000000000000000000a11ce' } },
    },
    {
      kind: 'tool',
      actionId,
      timestamp: t + 3,
      tool: 'price',
      args: { symbol: 'ETH' },
      outcome: { status: 'error', error: { name: 'TimeoutError', message: 'no answer in 5 s' } },
    },
    {
      kind: 'wallet',
      actionId,
      timestamp: t + 4,
      chainId: '31337',
      from: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
      to: '0x00000000000000000000000000000000000a11ce',
      value: '1000000000',
      data: '0x',
      nonce: 0,
      policyVersion: 1,
    },
    { kind: 'output', actionId, timestamp: t + 5, result: { paid: true, note: 'done ✓' } },
  ]
}

/** `n` chained steps of agent `agentId`, cycling through the sample bodies. */
export function sampleSteps(n: number, agentId = AGENT_ID): Step[] {
  const chain = new TraceChain(genesisHead(agentId))
  const steps: Step[] = []
  for (let i = 0; i < n; i++) {
    const bodies = sampleBodies(`task-${Math.floor(i / 6)}`, T0 + i)
    steps.push(chain.append(bodies[i % bodies.length] as StepBody).step)
  }
  return steps
}

/**
 * The body of step `i` in the WAL crash test, a pure function of `i` so the parent can
 * check every step the child acknowledged. Every 6th step is large (0.25–1 MiB) so that a
 * SIGKILL can land inside its write and tear it.
 */
export function crashStepBody(i: number): StepBody {
  const mix = Math.imul(i + 1, 2654435761) >>> 0
  const size = i % 6 === 5 ? 256 * 1024 + (mix % (768 * 1024)) : 16 + (mix % 4096)
  return { kind: 'output', actionId: `crash-${i}`, timestamp: T0 + i, result: { i, pad: 'z'.repeat(size) } }
}

/**
 * `bytes` with each flip's byte set (positions wrap), or cut to `cut` bytes when there is no
 * flip: malformed variants of valid steps, for properties over what the decoder refuses.
 */
export function mutateBytes([bytes, flips, cut]: [Uint8Array, [number, number][], number]): Uint8Array {
  const out = Uint8Array.from(bytes)
  for (const [at, v] of flips) out[at % out.length] = v
  return flips.length === 0 ? out.subarray(0, cut % out.length) : out
}

/** The canonical bytes of the first `n` sample steps. */
export const sampleStepBytes = (n = 6): Uint8Array[] => sampleSteps(n).map(encodeStep)
