import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { bundleChild, type ChildBundle } from '../../test/fixtures/childBundle.js'
import { ProcessLock } from './processLock.js'
import { walPaths } from './wal.js'

// Issue 17: stand-by hosts raced for the WAL lock of a host that had just been killed;
// the old pid-file takeover (read the dead pid, unlink, create) let two of them win. Here
// four stand-by processes race, in each trial, for the lock of a holder killed with
// SIGKILL a moment before: exactly one wins every time, and while the holder lives none do.
const CHILD = fileURLToPath(new URL('./processLock.race-child.ts', import.meta.url))
const AGENT = '77'
const CONTENDERS = 4
const TRIALS = 200

type Contender = { child: ChildProcessWithoutNullStreams; lines: AsyncIterator<string>; rl: Interface }
let dir: string
let bundle: ChildBundle
const contenders: Contender[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-lock-race-'))
  bundle = await bundleChild(CHILD)
  for (let i = 0; i < CONTENDERS; i++) {
    const child = spawn(process.execPath, [bundle.path, dir, AGENT], { stdio: ['pipe', 'pipe', 'pipe'] })
    const rl = createInterface({ input: child.stdout })
    contenders.push({ child, rl, lines: rl[Symbol.asyncIterator]() })
  }
  for (const c of contenders) expect(await next(c)).toBe('ready')
}, 60_000)

afterAll(async () => {
  for (const c of contenders) {
    c.rl.close()
    c.child.kill('SIGKILL')
  }
  await rm(dir, { recursive: true, force: true })
  await bundle?.dispose()
})

async function next(c: Contender): Promise<string> {
  const r = await c.lines.next()
  if (r.done) throw new Error(`contender ${c.child.pid} closed its output`)
  return r.value
}

async function ask(c: Contender, what: string): Promise<string> {
  c.child.stdin.write(`${what}\n`)
  return next(c)
}

/** A host that takes the lock directly through the kernel call and waits to be killed. */
async function startHolder(lockPath: string): Promise<ChildProcessWithoutNullStreams> {
  const script = `const fs = require('node:fs'); const { tryLock } = require('fs-native-extensions');
    const fd = fs.openSync(${JSON.stringify(lockPath)}, 'a+'); if (!tryLock(fd)) process.exit(3);
    fs.ftruncateSync(fd, 0); fs.writeSync(fd, process.pid + '\\n'); process.stdout.write('held\\n'); setInterval(() => {}, 1e6)`
  const holder = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] })
  const [line] = (await once(createInterface({ input: holder.stdout }), 'line')) as [string]
  expect(line).toBe('held')
  return holder
}

test(`${CONTENDERS} stand-bys race for a just-killed holder's WAL lock: exactly one winner in each of ${TRIALS} trials`, async () => {
  const lockPath = walPaths(dir, AGENT).lock
  const winners = new Map<number, number>()
  for (let trial = 0; trial < TRIALS; trial++) {
    const holder = await startHolder(lockPath)
    // while the holder lives, nobody gets in, and each is told who holds it
    const refused = await Promise.all(contenders.map((c) => ask(c, 'try')))
    expect(refused).toEqual(contenders.map(() => `lost ${holder.pid}`))
    const exited = once(holder, 'exit')
    holder.kill('SIGKILL')
    await exited
    // the dead holder's pid is still in the file; it decides nothing
    expect(await readFile(lockPath, 'utf8')).toBe(`${holder.pid}\n`)
    const answers = await Promise.all(contenders.map((c) => ask(c, 'try')))
    const won = answers.flatMap((a, i) => (a === 'won' ? [i] : []))
    expect(won, `trial ${trial}: ${answers.join(', ')}`).toHaveLength(1)
    expect(answers.filter((a) => a !== 'won').every((a) => a.startsWith('lost'))).toBe(true)
    winners.set(won[0]!, (winners.get(won[0]!) ?? 0) + 1)
    expect(await ask(contenders[won[0]!]!, 'release')).toBe('released')
  }
  expect([...winners.values()].reduce((a, b) => a + b, 0)).toBe(TRIALS)
}, 300_000)

test('two handles in one process exclude each other; release lets the next one in', async () => {
  const path = join(dir, 'one-process.lock')
  const first = await ProcessLock.tryAcquire(path)
  expect('lock' in first).toBe(true)
  expect(await ProcessLock.tryAcquire(path)).toEqual({ heldBy: process.pid })
  if ('lock' in first) await first.lock.release()
  const second = await ProcessLock.tryAcquire(path)
  expect('lock' in second).toBe(true)
  if ('lock' in second) await second.lock.release()
})
