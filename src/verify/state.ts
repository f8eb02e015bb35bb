import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import type { Address } from 'viem'
import { ProcessLock, writeFileAtomic } from '../trace/index.js'
import { VerifierLockedError, VerifierStateError } from './errors.js'
import { verifierStateSchema, type VerifierState } from './schemas.js'

/**
 * The verifier's data dir: `verifier-state.json` (cursor, recent block hashes, pending
 * checks, the disputes it follows and the verdicts it signed), replaced atomically after
 * every processed range so a restart resumes exactly where the last save left off, and a
 * `verifier.lock`, the kernel lock of the one process that may use the dir (ProcessLock).
 */
export class VerifierStateStore {
  readonly dir: string
  readonly path: string
  readonly lockPath: string
  #lock: ProcessLock | null = null

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

  /** Takes the lock (a kernel lock, released when its holder exits or is killed). */
  async lock(): Promise<void> {
    if (this.#lock?.held) return
    const r = await ProcessLock.tryAcquire(this.lockPath)
    if ('heldBy' in r) throw new VerifierLockedError({ path: this.lockPath, pid: r.heldBy })
    this.#lock = r.lock
  }

  async unlock(): Promise<void> {
    const lock = this.#lock
    this.#lock = null
    await lock?.release()
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

