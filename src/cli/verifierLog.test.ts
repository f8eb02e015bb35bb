import { Writable } from 'node:stream'
import pino from 'pino'
import { describe, expect, test } from 'vitest'
import type { VerifierEvent } from '../verify/node.js'
import { logVerifierEvent, verifierEventLevel } from './verifierLog.js'

const ADDR = '0x00000000000000000000000000000000000a11ce' as const
const HASH = `0x${'ab'.repeat(32)}` as const

/** A pino logger at `level` writing into an array of parsed records. */
function capture(level: string) {
  const records: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) records.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return { logger: pino({ level }, sink), records }
}

const fault = { type: 'InferenceFraud', agentId: 3n, sequence: 0n, stepIndex: 9, reason: 'the replay gives another label' } as unknown as Extract<VerifierEvent, { type: 'fault' }>['fault']

const events: VerifierEvent[] = [
  { type: 'started', verifier: ADDR, fromBlock: 0n, queue: 'in-process' },
  { type: 'range', from: 1n, to: 9n, head: 9n, batches: 1 },
  { type: 'batch', agentId: 3n, sequence: 0n, steps: 10, status: 'ok', faults: 0 },
  { type: 'fault', fault, description: 'InferenceFraud agent 3 batch 0 step 9' },
  { type: 'challenge', fault, description: 'InferenceFraud agent 3 batch 0 step 9', result: { status: 'opened', kind: 'InferenceFraud', disputeId: 2n, bond: 10n ** 17n, deadline: 100, hash: HASH, gasUsed: 90_000n } },
  { type: 'dispute', disputeId: 2n, kind: 'InferenceFraud', agentId: 3n, challenger: ADDR },
  { type: 'vote', disputeId: 2n, agentAtFault: true, reason: 'replayed: label differs', status: 'Open', counted: 1, gasUsed: 70_000n },
  { type: 'resolved', disputeId: 2n, status: 'Slashed', slashedEth: 25n * 10n ** 17n, slashedToken: 0n },
  { type: 'resolved', disputeId: 4n, status: 'Rejected', slashedEth: 0n, slashedToken: 0n },
  {
    type: 'error',
    where: 'vote',
    // a library error: its details carry the node URL with a key and the request body
    error: Object.assign(new Error('HTTP request failed.\n\nURL: https://rpc.example/v2/SECRET-API-KEY\nRequest body: {"params":["0xsigned"]}'), {
      name: 'HttpRequestError',
      shortMessage: 'HTTP request failed.',
    }),
  },
]

describe('verifier start: the operator log', () => {
  test('disputes opened, votes and verdicts at info; faults and slashes at warn; errors at error; ranges and clean batches at debug', () => {
    expect(events.map((e) => `${e.type}:${verifierEventLevel(e)}`)).toEqual([
      'started:info',
      'range:debug',
      'batch:debug',
      'fault:warn',
      'challenge:info',
      'dispute:info',
      'vote:info',
      'resolved:warn',
      'resolved:info',
      'error:error',
    ])
  })

  test('at info: one record per event at or above info, with the readable line and the event fields; never an error\'s details', () => {
    const { logger, records } = capture('info')
    for (const e of events) logVerifierEvent(logger, e)
    expect(records.map((r) => [r['level'], r['event']])).toEqual([
      [30, 'started'],
      [40, 'fault'],
      [30, 'challenge'],
      [30, 'dispute'],
      [30, 'vote'],
      [40, 'resolved'],
      [30, 'resolved'],
      [50, 'error'],
    ])
    expect(records[4]).toMatchObject({ event: 'vote', disputeId: '2', agentAtFault: true, msg: 'voted AT FAULT on dispute #2 (replayed: label differs); dispute Open' })
    expect(records[5]).toMatchObject({ disputeId: '2', status: 'Slashed', slashedEth: '2500000000000000000', msg: 'dispute #2 Slashed: 2.5 ETH slashed' })
    expect(records[7]).toMatchObject({ where: 'vote', error: { name: 'HttpRequestError', message: 'HTTP request failed.' } })
    const text = JSON.stringify(records)
    expect(text).not.toContain('SECRET-API-KEY')
    expect(text).not.toContain('0xsigned')
  })

  test('at warn only faults, slashes and errors; at error only errors; silent logs nothing', () => {
    const warn = capture('warn')
    for (const e of events) logVerifierEvent(warn.logger, e)
    expect(warn.records.map((r) => r['event'])).toEqual(['fault', 'resolved', 'error'])
    const error = capture('error')
    for (const e of events) logVerifierEvent(error.logger, e)
    expect(error.records.map((r) => r['event'])).toEqual(['error'])
    const silent = capture('silent')
    for (const e of events) logVerifierEvent(silent.logger, e)
    expect(silent.records).toEqual([])
    const debug = capture('debug')
    for (const e of events) logVerifierEvent(debug.logger, e)
    expect(debug.records).toHaveLength(events.length)
  })
})
