// A replay worker process for test/integration/verify.queue.test.ts: joins a BullMQ replay
// queue and prints one line per job (`active <id>`, `done <id>`). With MODE=hang it stops
// inside its first job and never returns, so the test can SIGKILL it mid-job.
import { localReplayer } from './replayers.js'
import type { Replayer } from './inference.js'
import { startReplayWorker } from './worker.js'

const redisUrl = process.env.REDIS_URL
const queueName = process.env.QUEUE
if (!redisUrl || !queueName) throw new Error('REDIS_URL and QUEUE are required')
const delayMs = Number(process.env.DELAY_MS ?? 0)
const hang = process.env.MODE === 'hang'

const replay = localReplayer()
const replayer: Replayer = async (record, rule) => {
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs))
  return replay(record, rule)
}

await startReplayWorker({
  redisUrl,
  queueName,
  replayer,
  concurrency: 1,
  lockDurationMs: 1_000,
  stalledIntervalMs: 500,
  beforeJob: async (job) => {
    process.stdout.write(`active ${job.id}\n`)
    if (hang) await new Promise(() => {})
  },
  onEvent: (e) => {
    if (e.type === 'completed') process.stdout.write(`done ${e.id}\n`)
  },
})
process.stdout.write('ready\n')
