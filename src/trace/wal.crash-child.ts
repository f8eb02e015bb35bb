// Child process of wal.crash.test.ts: appends steps to a WAL forever and prints
// "ack <index>" after each append returns, until the parent kills it with SIGKILL. With a
// third argument n > 1 it keeps n appends in flight at once (group commit: they share
// fdatasyncs), printing each ack as its append returns.
import { writeSync } from 'node:fs'
import { crashStepBody } from './_fixtures.js'
import { TraceWal } from './wal.js'

const [dir, agentId, inFlight] = process.argv.slice(2) as [string, string, string | undefined]
const n = Math.max(1, Number(inFlight ?? 1) || 1)
const wal = await TraceWal.open({ dir, agentId })
writeSync(1, `ready ${wal.head.nextIndex}\n`)
for (;;) {
  const first = wal.head.nextIndex
  // appendNext links in call order: the j-th call of this round gets index first + j
  await Promise.all(
    Array.from({ length: n }, (_, j) =>
      wal.appendNext(crashStepBody(first + j)).then(() => {
        writeSync(1, `ack ${first + j}\n`)
      }),
    ),
  )
}
