import { replayJobHandler, type Replayer, type ReplayJobData, type ReplayJobResult } from './inference.js'
import { createJobQueue, type JobQueue, type QueueJob, type WorkerEvent } from './queue.js'

export type StartReplayWorkerOptions = {
  replayer: Replayer
  /** An existing queue; otherwise one is made from `queueName` + `redisUrl`. */
  queue?: JobQueue<ReplayJobData, ReplayJobResult> | undefined
  queueName?: string | undefined
  redisUrl?: string | undefined
  /** Replays run at once in this process. @defaultValue 1 */
  concurrency?: number | undefined
  /** BullMQ: a dead worker's job is recovered after about this long, ms. @defaultValue 30000 */
  lockDurationMs?: number | undefined
  /** BullMQ: how often workers look for jobs of dead workers, ms. @defaultValue 30000 */
  stalledIntervalMs?: number | undefined
  onEvent?: ((event: WorkerEvent) => void) | undefined
  /** Runs before each job (tests use it to stop a worker mid-job). */
  beforeJob?: ((job: QueueJob<ReplayJobData>) => Promise<void>) | undefined
}

export type ReplayWorker = {
  queue: JobQueue<ReplayJobData, ReplayJobResult>
  close(): Promise<void>
}

/**
 * A replay worker: runs inference replays from the verifier queue and reports the result
 * to whichever verifier node waits on the job. Start as many as you like, in any number of
 * processes or machines, on one BullMQ queue (`covenant verifier worker`).
 */
export async function startReplayWorker(o: StartReplayWorkerOptions): Promise<ReplayWorker> {
  const queue =
    o.queue ??
    createJobQueue<ReplayJobData, ReplayJobResult>({
      name: o.queueName ?? 'covenant-verify',
      redisUrl: o.redisUrl,
      lockDurationMs: o.lockDurationMs,
      stalledIntervalMs: o.stalledIntervalMs,
    })
  const handle = replayJobHandler(o.replayer)
  const worker = await queue.process(
    async (job) => {
      await o.beforeJob?.(job)
      return handle(job)
    },
    { concurrency: o.concurrency, onEvent: o.onEvent },
  )
  return {
    queue,
    async close() {
      await worker.close()
      if (!o.queue) await queue.close()
    },
  }
}
