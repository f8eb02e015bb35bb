import { mkdir, open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import type { Address } from 'viem'
import { writeFileAtomic } from '../trace/index.js'
import { VerifierLockedError, VerifierStateError } from './errors.js'
import { verifierStateSchema, type VerifierState } from './schemas.js'

/**
 * The verifier's data dir: `verifier-state.json` (cursor, recent block hashes, pending
 * checks, the disputes it follows and the verdicts it signed), replaced atomically after
 * every processed range so a restart resumes exactly where the last save left off, and a
 * `verifier.lock` holding the pid of the one process that may use the dir.
 */
export class VerifierStateStore {
  readonly dir: string
  readonly path: string
  readonly lockPath: string
  #locked = false

  constructor(dir: string) {
    this.dir = dir
    this.path = join(dir, 'verifier-state.json')
    this.lockPath = join(dir, 'verifier.lock')
  }

  static empty(p: { chainId: number; traceLog: Address; disputeGame: Address }): VerifierState {
    return {
      version: 1,
      chainId: p.chainId,
      traceLog: p.traceLog,
      disputeGame: p.disputeGame,
      cursor: null,
      checkpoints: [],
      agents: {},
      pendingBlobs: [],
      pendingTxs: [],
      disputes: [],
      verdicts: {},
    }
  }

  /** Takes the lock; a lock left by a dead process is taken over. */
  async lock(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.lockPath, 'wx', 0o600)
        try {
          await fh.writeFile(`${process.pid}\n`)
          await fh.sync()
        } finally {
          await fh.close()
        }
        this.#locked = true
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const text = await readFile(this.lockPath, 'utf8').catch(() => '')
      const pid = /^\d+\n$/.test(text) ? Number(text.trim()) : Number.NaN
      if (pid === process.pid || (Number.isSafeInteger(pid) && alive(pid))) throw new VerifierLockedError({ path: this.lockPath, pid })
      await unlink(this.lockPath).catch(() => {})
    }
    throw new VerifierLockedError({ path: this.lockPath, pid: Number.NaN })
  }

  async unlock(): Promise<void> {
    if (!this.#locked) return
    this.#locked = false
    await unlink(this.lockPath).catch(() => {})
  }

  /**
   * The saved state, or a fresh one. A file of another chain or deployment is refused
   * rather than silently reused.
   */
  async load(expect: { chainId: number; traceLog: Address; disputeGame: Address }): Promise<VerifierState> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return VerifierStateStore.empty(expect)
      throw new VerifierStateError({ path: this.path, reason: 'cannot be read', cause: err })
    }
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (cause) {
      throw new VerifierStateError({ path: this.path, reason: 'is not valid JSON', cause })
    }
    const parsed = verifierStateSchema.safeParse(raw)
    if (!parsed.success) {
      throw new VerifierStateError({ path: this.path, reason: `is damaged (${z.prettifyError(parsed.error).split('\n')[0]})` })
    }
    const s = parsed.data
    if (
      s.chainId !== expect.chainId ||
      s.traceLog.toLowerCase() !== expect.traceLog.toLowerCase() ||
      s.disputeGame.toLowerCase() !== expect.disputeGame.toLowerCase()
    ) {
      throw new VerifierStateError({
        path: this.path,
        reason: `follows chain ${s.chainId} / TraceLog ${s.traceLog}, not chain ${expect.chainId} / TraceLog ${expect.traceLog}`,
      })
    }
    return s
  }

  /** Replaces the state file atomically (temp file, fsync, rename, fsync of the dir). */
  async save(state: VerifierState): Promise<void> {
    await writeFileAtomic(this.path, new TextEncoder().encode(`${JSON.stringify(state)}\n`))
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
