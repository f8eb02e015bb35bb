import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { UnrecoverableCovenantError } from '../errors/base.js'
import { createJobQueue, type JobQueue } from './queue.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const open: JobQueue<unknown, unknown>[] = []
afterEach(async () => {
  for (const q of open.splice(0)) {
    await q.obliterate().catch(() => {})
    await q.close()
  }
})

for (const kind of ['in-process', 'bullmq'] as const) {
  describe(`job queue (${kind})`, () => {
    function queue<D, R>(extra: { attempts?: number } = {}) {
      const q = createJobQueue<D, R>({
        name: `verify-test-${randomBytes(6).toString('hex')}`,
        redisUrl: kind === 'bullmq' ? REDIS_URL : undefined,
        backoffMs: 10,
        ...extra,
      })
      open.push(q as JobQueue<unknown, unknown>)
      return q
    }

    it('runs jobs and returns their results', async () => {
      const q = queue<{ n: number }, number>()
      await q.process(async (job) => job.data.n * 2, { concurrency: 2 })
      const results = await Promise.all([1, 2, 3].map((n) => q.run(`job-${n}`, { n })))
      expect(results).toEqual([2, 4, 6])
      expect(q.kind).toBe(kind)
    })

    it('collapses a duplicate id into the first job', async () => {
      const q = queue<{ n: number }, number>()
      let runs = 0
      await q.process(async (job) => {
        runs++
        return job.data.n
      })
      const [a, b] = await Promise.all([q.run('same-key', { n: 1 }), q.run('same-key', { n: 2 })])
      expect([a, b]).toEqual([1, 1])
      expect(await q.run('same-key', { n: 3 })).toBe(1)
      expect(runs).toBe(1)
    })

    it('retries a recoverable error and not an unrecoverable one', async () => {
      const q = queue<{ fail: 'once' | 'never-retry' }, string>({ attempts: 3 })
      const attempts: Record<string, number> = {}
      await q.process(async (job) => {
        attempts[job.id] = job.attempt
        if (job.data.fail === 'once' && job.attempt === 1) throw new Error('flaky')
        if (job.data.fail === 'never-retry') throw new UnrecoverableCovenantError('policy violated')
        return 'ok'
      })
      expect(await q.run('flaky', { fail: 'once' })).toBe('ok')
      expect(attempts.flaky).toBe(2)
      const err = await q.run('fatal', { fail: 'never-retry' }).catch((e: unknown) => e)
      expect((err as { name: string }).name).toBe('JobFailedError')
      expect((err as { unrecoverable: boolean }).unrecoverable).toBe(true)
      expect(attempts.fatal).toBe(1)
    })

    it('addBulk adds a batch in order, collapses ids that exist, and a worker keeps several jobs in flight', async () => {
      const q = queue<{ n: number }, number>()
      await q.add('bulk-3', { n: 300 })
      await q.addBulk([1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ id: `bulk-${n}`, data: { n } })))
      await expect(q.addBulk([{ id: 'a:b', data: { n: 0 } }])).rejects.toThrow(/not valid/)
      let inFlight = 0
      let most = 0
      const started: number[] = []
      let release!: () => void
      const gate = new Promise<void>((r) => (release = r))
      await q.process(
        async (job) => {
          started.push(job.data.n)
          most = Math.max(most, ++inFlight)
          if (most >= 4) release()
          await gate
          inFlight--
          return job.data.n
        },
        { concurrency: 4 },
      )
      const results = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((n) => q.wait(`bulk-${n}`)))
      // the job added before kept its data; each job ran once
      expect(results).toEqual([1, 2, 300, 4, 5, 6, 7, 8])
      expect(most).toBe(4)
      expect(started).toHaveLength(8)
      // taken in the order added
      expect(started).toEqual([300, 1, 2, 4, 5, 6, 7, 8])
      expect(await q.counts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 })
    })

    it('rejects data that is not JSON and ids BullMQ cannot hold', async () => {
      const q = queue<unknown, unknown>()
      await expect(q.add('big', { n: 1n })).rejects.toThrow(/Job data must be JSON/)
      await expect(q.add('a:b', {})).rejects.toThrow(/not valid/)
      await expect(q.add('123', {})).rejects.toThrow(/not valid/)
    })
  })
}

it('checks its options once', () => {
  expect(() => createJobQueue({ name: 'bad:name' })).toThrow(/Queue name/)
  expect(() => createJobQueue({ name: 'ok', attempts: 0 })).toThrow(/attempts must be an integer greater than 0/)
})
