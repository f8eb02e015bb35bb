// Child process of wal.crash.test.ts: appends steps to a WAL forever and prints
// "ack <index>" after each append returns, until the parent kills it with SIGKILL.
import { writeSync } from 'node:fs'
import { crashStepBody } from './_fixtures.js'
import { TraceWal } from './wal.js'

const [dir, agentId] = process.argv.slice(2) as [string, string]
const wal = await TraceWal.open({ dir, agentId })
writeSync(1, `ready ${wal.head.nextIndex}\n`)
for (;;) {
  const i = wal.head.nextIndex
  await wal.appendNext(crashStepBody(i))
  writeSync(1, `ack ${i}\n`)
}
