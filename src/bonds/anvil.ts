import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { mnemonicToAccount, type HDAccount } from 'viem/accounts'
import { AnvilNotInstalledError, AnvilStartError } from './errors.js'

/** The well-known development mnemonic anvil funds by default. Never use it on a real chain. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk'

export type StartAnvilOptions = {
  /** Port to listen on. @defaultValue 0 (a free port chosen by anvil) */
  port?: number | undefined
  /** Chain id. @defaultValue 31337 */
  chainId?: number | undefined
  /** Seconds per block; undefined mines one block per transaction. */
  blockTime?: number | undefined
  /** Number of funded dev accounts. @defaultValue 10 */
  accounts?: number | undefined
  /** Ether per dev account. @defaultValue 10000 */
  balance?: number | undefined
  /** Persist and reload chain state in this file. */
  stateFile?: string | undefined
  /** Milliseconds to wait for anvil to listen. @defaultValue 20000 */
  startTimeoutMs?: number | undefined
}

export type Anvil = {
  rpcUrl: string
  port: number
  chainId: number
  /** Funded dev accounts derived from {@link ANVIL_MNEMONIC}. */
  accounts: HDAccount[]
  /**
   * Where the node keeps the states of older blocks (past the few hundred it holds in memory;
   * anvil's `--cache-path`, otherwise `~/.foundry/anvil/tmp`, which anvil never empties): a
   * temporary directory, removed when the node exits (seen by this process: if this process
   * dies first, it stays in the OS's temporary directory).
   */
  stateCacheDir: string
  process: ChildProcess
  stop(): Promise<void>
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' }

/** Path of the anvil binary shipped in the @foundry-rs/anvil platform package. */
export function anvilBinary(): string {
  const platform = `${process.platform}-${ARCH[process.arch] ?? process.arch}`
  const require = createRequire(import.meta.url)
  try {
    const pkg = require.resolve(`@foundry-rs/anvil-${platform}/package.json`)
    return join(dirname(pkg), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
  } catch (cause) {
    throw new AnvilNotInstalledError(platform, cause)
  }
}

/** Starts a real anvil node on a free local port; `stop()` ends it cleanly. */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<Anvil> {
  const chainId = options.chainId ?? 31337
  const count = options.accounts ?? 10
  const args = [
    '--host', '127.0.0.1',
    '--port', String(options.port ?? 0),
    '--chain-id', String(chainId),
    '--accounts', String(count),
    '--balance', String(options.balance ?? 10_000),
    '--mnemonic', ANVIL_MNEMONIC,
  ]
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime))
  if (options.stateFile) args.push('--state', options.stateFile)
  // anvil writes the state of every block past its in-memory window (~300 blocks, a few hundred
  // KB each) to disk, by default under ~/.foundry/anvil/tmp, and leaves it there when it exits
  // however it is stopped: a long test run left hundreds of MB in the user's home per node
  const binary = anvilBinary()
  const stateCacheDir = mkdtempSync(join(tmpdir(), 'covenant-anvil-'))
  args.push('--cache-path', stateCacheDir)

  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  // removed once the node is gone, whatever ended it (stop, a crash, a failed start)
  const exited = new Promise<void>((resolve) => {
    const clean = () => {
      rmSync(stateCacheDir, { recursive: true, force: true })
      resolve()
    }
    child.once('exit', clean)
    child.once('error', () => {
      if (child.pid === undefined) clean()
    })
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new AnvilStartError('anvil did not start listening in time.', { details: out.slice(-2000) }))
    }, options.startTimeoutMs ?? 20_000)
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const m = /Listening on [\d.]+:(\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        // keep draining so anvil never blocks on a full pipe
        child.stdout?.resume()
        resolve(Number(m[1]))
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()))
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(new AnvilStartError('anvil failed to start.', { cause: err }))
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new AnvilStartError(`anvil exited with code ${code} before listening.`, { details: out.slice(-2000) }))
    })
  })
  child.stderr?.resume()

  const accounts = Array.from({ length: count }, (_, i) => mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: i }))
  let stopped: Promise<void> | undefined
  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    port,
    chainId,
    accounts,
    stateCacheDir,
    process: child,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(exited)
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
        void exited.then(() => {
          clearTimeout(timer)
          resolve()
        })
        child.kill('SIGTERM')
      })
      return stopped
    },
  }
}
