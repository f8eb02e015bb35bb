import { fork, type ChildProcess } from 'node:child_process'
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Hex } from 'viem'
import type { Step } from '../../trace/index.js'
import { replayKit, type ReplayKit } from './kit.js'
import type { ActionReplayResult } from './replayAction.js'
import type { SandboxReply, SandboxRequest } from './sandbox.child.js'

export type ReplaySandboxOptions = {
  /** Longest one action's replay may take (the child is killed after), ms. @defaultValue 60000 */
  timeoutMs?: number | undefined
  /** Longest loading a bundle may take, ms. @defaultValue 60000 */
  loadTimeoutMs?: number | undefined
  /** The child's JavaScript heap cap, MiB. @defaultValue 512 */
  memoryMb?: number | undefined
  /** Children kept alive at once (one per code bundle; the least recently used goes first). @defaultValue 4 */
  maxChildren?: number | undefined
}

export type SandboxReplayJob = {
  codeHash: Hex
  /** The bundle bytes, already checked against codeHash. */
  bundle: Uint8Array
  agentId: string
  actionId: string
  /** The agent's account (AgentRegistry), which token authorizations name as `from`; absent = as the action's wallet steps name it. */
  account?: string | undefined
  steps: readonly Step[]
}

type Child = {
  proc: ChildProcess
  ready: Promise<void>
  waiting: Map<number, (reply: SandboxReply | { type: 'gone'; reason: string }) => void>
  queue: Promise<unknown>
  stderr: string
  gone: string | undefined
}

/**
 * Runs agent code — an operator's, so untrusted — away from the verifier: one child process
 * per code bundle, started from the replay kit (kit.ts) under Node's permission model. What
 * holds: no file writes, no child processes, no worker threads, no native addons, reads
 * only of the kit, the installed packages and the shipped models; a capped heap; a time
 * limit per action (the child is killed); an empty environment (no keys, no passwords).
 * What does not: Node 20's permission model has no network switch — agent code could open
 * sockets (it learns nothing secret: the child holds only the committed trace it replays).
 * A child that hangs, crashes or runs out of memory makes the replay `unverifiable`, never
 * a fault: a verifier cannot tell evasion from a slow machine.
 */
export class ReplaySandbox {
  readonly #o: { timeoutMs: number; loadTimeoutMs: number; memoryMb: number; maxChildren: number }
  readonly #children = new Map<string, Child>()
  #next = 1
  #closed = false

  constructor(options: ReplaySandboxOptions = {}) {
    this.#o = {
      timeoutMs: options.timeoutMs ?? 60_000,
      loadTimeoutMs: options.loadTimeoutMs ?? 60_000,
      memoryMb: options.memoryMb ?? 512,
      maxChildren: options.maxChildren ?? 4,
    }
  }

  /** Replays one action through the bundle's agent (see replayAction). Never throws: failures are `unverifiable`. */
  async replay(job: SandboxReplayJob): Promise<ActionReplayResult> {
    if (this.#closed) return { status: 'unverifiable', reason: 'the replay sandbox is closed' }
    let child: Child
    try {
      child = await this.#child(job.codeHash, job.bundle)
    } catch (err) {
      return { status: 'unverifiable', reason: `the agent's code bundle cannot be loaded for replay: ${(err as Error).message}` }
    }
    const run = child.queue.then(async (): Promise<ActionReplayResult> => {
      const reply = await this.#request(child, { type: 'replay', id: this.#next++, agentId: job.agentId, actionId: job.actionId, account: job.account, steps: [...job.steps] }, this.#o.timeoutMs)
      if (reply.type === 'result') return reply.result
      return { status: 'unverifiable', reason: reply.type === 'gone' ? reply.reason : 'the replay process answered out of turn' }
    })
    child.queue = run.catch(() => {})
    return run
  }

  /** Stops every child. */
  async close(): Promise<void> {
    this.#closed = true
    for (const [key, c] of this.#children) {
      this.#children.delete(key)
      c.proc.kill('SIGKILL')
    }
  }

  async #child(codeHash: Hex, bundle: Uint8Array): Promise<Child> {
    const key = codeHash.toLowerCase()
    const existing = this.#children.get(key)
    if (existing && !existing.gone) {
      // most recently used last
      this.#children.delete(key)
      this.#children.set(key, existing)
      await existing.ready
      return existing
    }
    const kit = await replayKit()
    while (this.#children.size >= this.#o.maxChildren) {
      const [oldest, c] = this.#children.entries().next().value as [string, Child]
      this.#children.delete(oldest)
      c.proc.kill('SIGKILL')
    }
    const child = this.#spawn(kit, key, bundle)
    this.#children.set(key, child)
    try {
      await child.ready
    } catch (err) {
      this.#children.delete(key)
      child.proc.kill('SIGKILL')
      throw err
    }
    return child
  }

  #spawn(kit: ReplayKit, key: string, bundle: Uint8Array): Child {
    const file = join(kit.dir, 'agents', `${key}.mjs`)
    const tmp = `${file}.${process.pid}.${this.#next++}.tmp`
    writeFileSync(tmp, bundle)
    renameSync(tmp, file)
    const proc = fork(kit.childEntry, [], {
      execPath: process.execPath,
      execArgv: [
        '--experimental-permission',
        ...kit.readPaths.map((p) => `--allow-fs-read=${p}/`),
        `--max-old-space-size=${this.#o.memoryMb}`,
        '--disable-warning=ExperimentalWarning',
        '--no-deprecation',
      ],
      env: {},
      cwd: kit.dir,
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    })
    // the children never keep the verifier's process alive (pending requests have their own timers)
    proc.unref()
    ;(proc.channel as { unref?: () => void } | null | undefined)?.unref?.()
    const child: Child = { proc, ready: Promise.resolve(), waiting: new Map(), queue: Promise.resolve(), stderr: '', gone: undefined }
    proc.stderr?.on('data', (d: Buffer) => {
      child.stderr = (child.stderr + d.toString()).slice(-4_000)
    })
    const goneFor = (why: string) => {
      if (child.gone) return
      child.gone = why
      if (this.#children.get(key) === child) this.#children.delete(key)
      for (const resolve of child.waiting.values()) resolve({ type: 'gone', reason: why })
      child.waiting.clear()
    }
    proc.on('exit', (code, signal) => {
      // the error's own lines, not Node's version banner
      const tail = child.stderr.trim().split('\n').filter((l) => l && !l.startsWith('Node.js v')).slice(-3).join(' | ')
      goneFor(`the replay process ended (${signal ?? `exit code ${code}`}${code === 134 || /heap/i.test(child.stderr) ? ', out of memory' : ''})${tail ? `: ${tail.slice(0, 300)}` : ''}`)
    })
    proc.on('error', (err) => goneFor(`the replay process failed: ${err.message}`))
    proc.on('message', (raw: unknown) => {
      const m = raw as SandboxReply
      if (m.type === 'ready') return child.waiting.get(0)?.(m)
      const resolve = child.waiting.get(m.id)
      child.waiting.delete(m.id)
      resolve?.(m)
    })
    child.ready = (async () => {
      const ready = await this.#await(child, 0, this.#o.loadTimeoutMs)
      if (ready.type !== 'ready') throw new Error(ready.type === 'gone' ? ready.reason : 'the replay process did not start')
      const loaded = await this.#request(child, { type: 'load', id: this.#next++, bundle: file }, this.#o.loadTimeoutMs)
      if (loaded.type === 'gone') throw new Error(loaded.reason)
      if (loaded.type !== 'loaded' || !loaded.ok) throw new Error(loaded.type === 'loaded' && !loaded.ok ? loaded.error : 'unexpected answer')
    })()
    return child
  }

  #request(child: Child, m: SandboxRequest, timeoutMs: number): Promise<SandboxReply | { type: 'gone'; reason: string }> {
    if (child.gone) return Promise.resolve({ type: 'gone', reason: child.gone })
    const answer = this.#await(child, m.id, timeoutMs)
    child.proc.send(m)
    return answer
  }

  #await(child: Child, id: number, timeoutMs: number): Promise<SandboxReply | { type: 'gone'; reason: string }> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.waiting.delete(id)
        child.proc.kill('SIGKILL')
        resolve({ type: 'gone', reason: `the agent's code did not finish within ${Math.round(timeoutMs / 1000)} s (the replay process was stopped)` })
      }, timeoutMs)
      child.waiting.set(id, (reply) => {
        clearTimeout(timer)
        resolve(reply)
      })
    })
  }
}
