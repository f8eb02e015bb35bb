import { describe, expect, test } from 'vitest'
import { createModerationClassifier } from '../inference/index.js'
import { localReplayer } from './replayers.js'

describe('localReplayer', () => {
  test('a record whose input tensor does not decode is a mismatch against the agent, not a verifier error', async () => {
    const { record } = await (await createModerationClassifier()).classify('BUY CHEAP FOLLOWERS NOW!!! click the link')
    const input = (record.request as { inputs: Array<{ data: string; layout?: string }> }).inputs[0]!
    expect(input.layout).toBe('sparse-v1')
    const bytes = Buffer.from(input.data, 'base64')
    bytes.writeUInt32LE(bytes.readUInt32LE(0) + 1, 0) // lists one element more than it holds
    const forged = structuredClone(record)
    ;(forged.request as { inputs: Array<{ data: string }> }).inputs[0]!.data = bytes.toString('base64')

    const honest = await localReplayer()(record, { mode: 'exact' })
    expect(honest.match).toBe(true)
    const verdict = await localReplayer()(forged, { mode: 'exact' })
    expect(verdict).toMatchObject({ match: false, actualHash: 'unreadable record' })
    expect((verdict.diff as { reason?: string } | null)?.reason).toMatch(/request input "counts" does not decode/)
  })
})
