// Child process of processLock.race.test.ts: a stand-by host. On "try" it opens the agent's
// WAL (taking its lock) and answers "won" or "lost <pid>"; on "release" it closes the WAL.
import { writeSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { WalLockedError } from './errors.js'
import { TraceWal } from './wal.js'

const [dir, agentId] = process.argv.slice(2) as [string, string]
let wal: TraceWal | null = null
writeSync(1, 'ready\n')
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'try') {
    try {
      wal = await TraceWal.open({ dir, agentId })
      writeSync(1, 'won\n')
    } catch (err) {
      if (!(err instanceof WalLockedError)) throw err
      writeSync(1, `lost ${err.pid}\n`)
    }
  } else if (line === 'release') {
    await wal?.close()
    wal = null
    writeSync(1, 'released\n')
  }
}
