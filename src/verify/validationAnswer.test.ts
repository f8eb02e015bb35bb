import { describe, expect, test } from 'vitest'
import type { DisputeInfo, DisputeKind, DisputeStatus } from '../bonds/index.js'
import { disputesOnAction, validationAnswer, type ActionFootprint } from './validationAnswer.js'

const footprint: ActionFootprint = {
  steps: [
    { sequence: 2n, stepIndex: 0 },
    { sequence: 2n, stepIndex: 1 },
    { sequence: 3n, stepIndex: 0 },
  ],
  sequences: [2n, 3n],
  txHashes: [`0x${'aa'.repeat(32)}`],
  callSequences: [5],
}

function dispute(id: number, kind: DisputeKind, status: DisputeStatus, over: Partial<DisputeInfo> = {}): DisputeInfo {
  return {
    disputeId: BigInt(id),
    kind,
    status,
    agentId: 1n,
    sequence: 2n,
    stepIndex: 1,
    subject: `0x${'00'.repeat(32)}`,
    challenger: '0x0000000000000000000000000000000000000001',
    bond: 10n,
    openedAt: 0,
    deadline: 0,
    stakeSnapshot: 0n,
    forStake: 0n,
    againstStake: 0n,
    slashedEth: 0n,
    slashedToken: 0n,
    harm: 0n,
    finalizesAt: 0,
    ...over,
  }
}

describe('which disputes are on an action', () => {
  test('its steps, its batches, its account calls and transactions; nothing else', () => {
    const all = [
      dispute(1, 'PolicyBreach', 'Slashed'), // step 2/1: yes
      dispute(2, 'InferenceFraud', 'Open', { stepIndex: 7 }), // another step of batch 2: no
      dispute(3, 'DataWithheld', 'Rejected', { sequence: 3n, stepIndex: 0 }), // its batch: yes
      dispute(4, 'InvalidBatch', 'Open', { sequence: 9n }), // another batch: no
      dispute(5, 'UntracedAction', 'Slashed', { sequence: 0n, stepIndex: 5, bond: 0n }), // its account call 5: yes
      dispute(6, 'UntracedAction', 'Slashed', { sequence: 0n, stepIndex: 6, bond: 0n }), // another call: no
      dispute(7, 'UntracedAction', 'Open', { sequence: 0n, stepIndex: 0, subject: `0x${'AA'.repeat(32)}` }), // its tx: yes
      dispute(8, 'PolicyBreach', 'Slashed', { agentId: 2n }), // another agent: no
    ]
    expect(disputesOnAction(all, 1n, footprint).map((d) => d.disputeId)).toEqual([1n, 3n, 5n, 7n])
  })
})

describe("the validator's answer", () => {
  const base = { actionId: '1-000000000001', now: 1_000, finalAt: 2_000 }

  test('honest, within the challenge window: a soft 100 naming the action', () => {
    expect(validationAnswer({ ...base, verdict: 'honest', disputes: [] })).toMatchObject({ response: 100, tag: 'bond-backed:soft', responseURI: 'covenant:action/1-000000000001' })
  })

  test('honest, past every window, no dispute open: a final 100', () => {
    expect(validationAnswer({ ...base, now: 2_001, verdict: 'honest', disputes: [] })).toMatchObject({ response: 100, tag: 'bond-backed:final' })
    // an open dispute keeps it soft, and is named
    expect(validationAnswer({ ...base, now: 2_001, verdict: 'honest', disputes: [dispute(4, 'SubjectiveClaim', 'Open')] })).toMatchObject({
      response: 100,
      tag: 'bond-backed:soft',
      responseURI: 'covenant:dispute/4',
    })
    // a rejected one is named in the final answer
    expect(validationAnswer({ ...base, now: 2_001, verdict: 'honest', disputes: [dispute(4, 'SubjectiveClaim', 'Rejected')] })).toMatchObject({
      response: 100,
      tag: 'bond-backed:final',
      responseURI: 'covenant:dispute/4',
    })
  })

  test('a fault: a soft 0, naming the open dispute; a slash makes it a final 0 naming the dispute', () => {
    expect(validationAnswer({ ...base, verdict: 'faulty', disputes: [] })).toMatchObject({ response: 0, tag: 'bond-backed:soft', responseURI: 'covenant:action/1-000000000001' })
    expect(validationAnswer({ ...base, verdict: 'faulty', disputes: [dispute(9, 'InferenceFraud', 'Open')] })).toMatchObject({ response: 0, tag: 'bond-backed:soft', responseURI: 'covenant:dispute/9' })
    const slashed = validationAnswer({ ...base, verdict: 'faulty', disputes: [dispute(9, 'InferenceFraud', 'Slashed')] })
    expect(slashed).toMatchObject({ response: 0, tag: 'bond-backed:final', responseURI: 'covenant:dispute/9' })
    expect(slashed?.reason).toMatch(/dispute #9 \(InferenceFraud\) slashed the agent/)
  })

  test('a slash decides even when this validator saw nothing wrong, or could not check', () => {
    for (const verdict of ['honest', 'unverifiable', 'incomplete'] as const) {
      expect(validationAnswer({ ...base, verdict, disputes: [dispute(3, 'DataWithheld', 'Slashed')] })).toMatchObject({ response: 0, tag: 'bond-backed:final', responseURI: 'covenant:dispute/3' })
    }
  })

  test('no answer while the action could not be checked and nothing was slashed', () => {
    expect(validationAnswer({ ...base, verdict: 'unverifiable', disputes: [] })).toBeUndefined()
    expect(validationAnswer({ ...base, verdict: 'incomplete', disputes: [dispute(3, 'DataWithheld', 'Open')] })).toBeUndefined()
  })
})
