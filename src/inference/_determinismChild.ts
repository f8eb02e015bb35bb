// Child process for determinism.test.ts: prints the probe hashes as JSON.
import { probeHashes } from './_determinismProbe.js'

const threads = Number(process.argv[2] ?? '1')
process.stdout.write(`${JSON.stringify(await probeHashes({ intraOpNumThreads: threads }))}\n`)
