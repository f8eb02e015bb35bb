import { describe, expect, test } from 'vitest'
import { TraceChain, genesisHead, linkStep, verifyChain } from './chain.js'
import { InvalidStepError, TraceChainError } from './errors.js'
import { ZERO_HASH, stepLeaf } from './leaf.js'
import type { Step, StepBody } from './schemas.js'
import { AGENT_ID, hash, sampleBodies, sampleSteps } from './_fixtures.js'

function chainError(fn: () => unknown): TraceChainError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(TraceChainError)
    return err as TraceChainError
  }
  throw new Error('expected a TraceChainError')
}

describe('TraceChain', () => {
  test('links each step to the leaf of the one before', () => {
    const chain = new TraceChain(genesisHead(AGENT_ID))
    const out = sampleBodies().map((b) => chain.append(b))
    expect(out[0]?.step.prevHash).toBe(ZERO_HASH)
    out.forEach(({ step, leaf }, i) => {
      expect(step.index).toBe(i)
      expect(step.agentId).toBe(AGENT_ID)
      expect(leaf).toBe(stepLeaf(step))
      if (i > 0) expect(step.prevHash).toBe(out[i - 1]?.leaf)
    })
    expect(chain.head).toEqual({ agentId: AGENT_ID, nextIndex: 6, prevHash: out[5]?.leaf })
  })

  test('refuses an invalid body and keeps its head', () => {
    const chain = new TraceChain(genesisHead(AGENT_ID))
    expect(() => chain.append({ kind: 'input', actionId: '', timestamp: 0, task: null })).toThrow(InvalidStepError)
    expect(chain.head).toEqual(genesisHead(AGENT_ID))
  })
})

describe('verifyChain', () => {
  const steps = sampleSteps(10)

  test('returns leaves and the head', () => {
    const { leaves, head } = verifyChain(steps)
    expect(leaves).toEqual(steps.map(stepLeaf))
    expect(head).toEqual({ agentId: AGENT_ID, nextIndex: 10, prevHash: leaves[9] })
    expect(verifyChain(steps.slice(4), { start: { agentId: AGENT_ID, nextIndex: 4, prevHash: leaves[3]! } }).head).toEqual(head)
    expect(verifyChain([], { start: head }).head).toEqual(head)
  })

  test('names the first bad index', () => {
    const swap = [...steps]
    ;[swap[3], swap[4]] = [swap[4] as Step, swap[3] as Step]
    expect(chainError(() => verifyChain(swap)).index).toBe(3)
    expect(chainError(() => verifyChain([...steps.slice(0, 5), ...steps.slice(6)])).index).toBe(5)
    expect(chainError(() => verifyChain([...steps.slice(0, 5), steps[4] as Step])).index).toBe(5)
    const tampered = steps.map((s, i) => (i === 7 ? { ...s, timestamp: 1 } : s))
    expect(chainError(() => verifyChain(tampered)).index).toBe(8)
    const other = steps.map((s, i) => (i === 2 ? { ...s, agentId: '7' } : s))
    expect(chainError(() => verifyChain(other)).index).toBe(2)
    expect(chainError(() => verifyChain([{ ...steps[0]!, prevHash: hash(1) }])).index).toBe(0)
    expect(chainError(() => verifyChain(steps.slice(1), { start: genesisHead(AGENT_ID) })).index).toBe(0)
  })

  test('the message says what is wrong and what to do', () => {
    expect(() => verifyChain([...steps.slice(0, 2), steps[3] as Step])).toThrowErrorMatchingInlineSnapshot(`
      [TraceChainError: Trace chain broken at step 2: expected index 2, found 3.

      Steps must have gapless indices, one agentId, and each prevHash must be the leaf of the step before (zero for step 0).
      A trace that does not chain was altered or assembled from the wrong steps; fetch it again from the WAL or DA.
      Docs: src/trace/README.md#hash-chain]
    `)
  })

  test('a run starting mid-trace is checked from its second step', () => {
    expect(verifyChain(steps.slice(5)).head.nextIndex).toBe(10)
    const linked = linkStep({ agentId: AGENT_ID, nextIndex: 3, prevHash: hash(9) }, sampleBodies()[0]!)
    expect(linked).toMatchObject({ index: 3, prevHash: hash(9), agentId: AGENT_ID })
  })

  test('linkStep copies the body as a spread does: same keys in the same order, own keys only, a symbol or __proto__ key kept', () => {
    const head = { agentId: AGENT_ID, nextIndex: 3, prevHash: hash(9) }
    for (const body of sampleBodies()) {
      const linked = linkStep(head, body)
      expect(Object.keys(linked)).toEqual(Object.keys({ ...body, agentId: 0, index: 0, prevHash: 0 }))
      expect(linked).toEqual({ ...body, agentId: AGENT_ID, index: 3, prevHash: hash(9) })
      expect(linked).not.toBe(body)
    }
    const inherited = Object.assign(Object.create({ hidden: 1 }), sampleBodies()[0]!)
    expect(Object.keys(linkStep(head, inherited))).not.toContain('hidden')
    const sym = Symbol('s')
    expect(Object.getOwnPropertySymbols(linkStep(head, { ...sampleBodies()[0]!, [sym]: 1 } as unknown as StepBody))).toEqual([sym])
    const proto = JSON.parse('{"kind":"input","actionId":"a","timestamp":1,"task":null,"__proto__":{"x":1}}')
    const linkedProto = linkStep(head, proto)
    expect(Object.hasOwn(linkedProto, '__proto__')).toBe(true)
    expect(Object.getPrototypeOf(linkedProto)).toBe(Object.prototype)
  })
})
