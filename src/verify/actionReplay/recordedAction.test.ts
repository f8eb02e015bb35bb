import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { Step } from '../../trace/index.js'
import { actionAttempts, RECOVER_TOOL } from './recordedAction.js'

// The attempts of an action as the service writes them (src/service/agentHost.ts): attempts
// a crash interrupted before they signed, each closed by recovery, then the last attempt in
// any state. Only the fields actionAttempts reads are set.

type Kind = 'inference' | 'tool' | 'wallet'
const step = (s: Partial<Step> & { kind: Step['kind'] }): Step => s as Step
const input = () => step({ kind: 'input' })
const body = (k: Kind) => step(k === 'tool' ? ({ kind: 'tool', tool: 'lookup' } as Partial<Step> & { kind: 'tool' }) : { kind: k })
const recover = () => step({ kind: 'tool', tool: RECOVER_TOOL } as Partial<Step> & { kind: 'tool' })
const output = (status: 'ok' | 'failed' | 'interrupted') => step({ kind: 'output', result: { status } } as Partial<Step> & { kind: 'output' })

/** An attempt that recovery closed and nothing was signed in: the service may run it again. */
const unsignedClosed = fc
  .record({ body: fc.array(fc.constantFrom<Kind>('inference', 'tool'), { maxLength: 3 }), recovered: fc.boolean() })
  .map((a) => [input(), ...a.body.map(body), ...(a.recovered ? [recover()] : []), output('interrupted')])

/** The last attempt: finished, failed, still open, or closed by recovery (a wallet step allowed). */
const lastAttempt = fc
  .record({ body: fc.array(fc.constantFrom<Kind>('inference', 'tool', 'wallet'), { maxLength: 4 }), end: fc.constantFrom('ok', 'failed', 'open', 'interrupted') })
  .map((a) => [
    input(),
    ...a.body.map(body),
    ...(a.end === 'open' ? [] : a.end === 'interrupted' ? [recover(), output('interrupted')] : [output(a.end as 'ok' | 'failed')]),
  ])

const action = fc.record({ before: fc.array(unsignedClosed, { maxLength: 3 }), last: lastAttempt }).map(({ before, last }) => {
  const starts: number[] = []
  const steps: Step[] = []
  for (const a of [...before, last]) {
    starts.push(steps.length)
    steps.push(...a)
  }
  return { steps, starts, before }
})

describe('actionAttempts', () => {
  test('an action re-run after unsigned interruptions splits at each fresh input', () => {
    fc.assert(
      fc.property(action, ({ steps, starts }) => {
        expect(actionAttempts(steps)).toEqual({ starts })
      }),
      { numRuns: 2_000 },
    )
  })

  test('a re-run after an attempt that signed is the mismatch, at the re-run\'s input', () => {
    fc.assert(
      fc.property(action.filter((a) => a.before.length > 0), fc.nat(), ({ steps, starts }, pick) => {
        // a wallet step inside one of the closed attempts (after its input, before its tail)
        const k = pick % (starts.length - 1)
        const signed = [...steps.slice(0, starts[k]! + 1), body('wallet'), ...steps.slice(starts[k]! + 1)]
        const r = actionAttempts(signed)
        expect(r).toMatchObject({ position: starts[k + 1]! + 1 })
        expect((r as { reason: string }).reason).toMatch(/had signed a transaction/)
      }),
      { numRuns: 1_000 },
    )
  })

  test('after a recovery tail only a fresh input may follow, and only once the tail closed the attempt', () => {
    fc.assert(
      fc.property(action.filter((a) => a.before.length > 0), fc.nat(), fc.constantFrom<Kind>('inference', 'tool', 'wallet'), ({ steps, starts }, pick, k) => {
        const at = starts[(pick % (starts.length - 1)) + 1]!
        // another step where the re-run's input is
        const stray = [...steps.slice(0, at), body(k), ...steps.slice(at + 1)]
        expect(actionAttempts(stray)).toMatchObject({ position: at, reason: expect.stringMatching(/after the action was closed by recovery/) })
        // the interrupted output dropped after a recover step: the tail did not close the attempt
        if ((steps[at - 2] as { tool?: string } | undefined)?.tool === RECOVER_TOOL) {
          const unclosed = [...steps.slice(0, at - 1), ...steps.slice(at)]
          expect(actionAttempts(unclosed)).toMatchObject({ position: at - 1 })
        }
      }),
      { numRuns: 1_000 },
    )
  })
})
