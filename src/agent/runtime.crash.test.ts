import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Hex } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Step, WalletStep } from '../trace/schemas.js'
import { readWalFile } from '../trace/wal.js'
import { createKeystore, saveKeystore } from '../wallet/keystore.js'
import { FAST_SCRYPT, randomAddress, startWalletChain, type WalletChain } from '../wallet/_fixtures.js'
import { parseEther } from 'viem'
import { startInferenceServer, type InferenceServer } from '../inference/server.js'

const CHILD = fileURLToPath(new URL('./runtime.crash-child.ts', import.meta.url))

let c: WalletChain
let server: InferenceServer
beforeAll(async () => {
  ;[c, server] = await Promise.all([startWalletChain(), startInferenceServer({ port: 0 })])
})
afterAll(async () => {
  await Promise.all([c?.stop(), server?.close()])
})

type ChildRun = { lines: string[]; killed: boolean }

/** Runs the child; if `killAt` is set, SIGKILLs it as soon as it reports reaching that point. */
function runChild(args: string[], killAt: string | null): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const lines: string[] = []
    let stderr = ''
    let buffered = ''
    let killed = false
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()))
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString()
      const parts = buffered.split('\n')
      buffered = parts.pop() ?? ''
      for (const line of parts) {
        lines.push(line)
        if (killAt && line.startsWith(`at ${killAt} `)) {
          killed = true
          child.kill('SIGKILL')
        }
      }
    })
    child.on('exit', (code, signal) => {
      if (killAt && signal === 'SIGKILL' && killed) return resolve({ lines, killed })
      if (!killAt && code === 0) return resolve({ lines, killed })
      reject(new Error(`child exited with ${code ?? signal} (expected ${killAt ? `SIGKILL at ${killAt}` : 'success'}):\n${lines.join('\n')}\n${stderr}`))
    })
  })
}

const recoveredOf = (run: ChildRun) =>
  JSON.parse(run.lines.find((l) => l.startsWith('recovered '))!.slice('recovered '.length)) as { nonce: number; outcome: string; hash: Hex | null }[]

test('SIGKILL after the WAL append, after signing, after broadcast: on restart nothing is lost, nothing is sent twice, and what was signed is what is sent', async () => {
  const dir = await c.tmpDir()
  const recipient = randomAddress()
  const { keystore, address } = await createKeystore({ password: 'test', scrypt: FAST_SCRYPT })
  const keystorePath = join(dir, 'agent.json')
  await saveKeystore(keystorePath, keystore)
  await c.fund(address, parseEther('10'))
  const args = (round: number, killAt: string, tasks: number) => [
    join(dir, 'wal'),
    c.anvil.rpcUrl,
    String(c.anvil.chainId),
    keystorePath,
    recipient,
    String(round),
    killAt,
    String(tasks),
    server.baseURL,
  ]

  // round 1: the first task dies right after its wallet step is durable
  const r1 = await runChild(args(1, 'stepWritten', 3), 'stepWritten')
  expect(r1.lines.filter((l) => l.startsWith('done '))).toHaveLength(0)
  expect(r1.lines).toContain('at stepWritten 0')
  expect(await c.nonce(address)).toBe(0) // nothing was signed

  // round 2: recovery signs round 1's authorised step from its WAL record and sends it; then dies after signing its own
  const r2 = await runChild(args(2, 'signed', 3), 'signed')
  expect(recoveredOf(r2)).toEqual([{ nonce: 0, outcome: 'signed-and-sent', hash: expect.stringMatching(/^0x/), error: null }])
  expect(r2.lines).toContain('closed ["r1-0"]')
  const signedInR2 = r2.lines.find((l) => l.startsWith('at signed 1 '))?.split(' ')[3]
  expect(signedInR2).toMatch(/^0x[0-9a-f]{64}$/)
  expect(await c.nonce(address)).toBe(1) // round 2's own transaction was signed, never sent

  // round 3: round 2's signed bytes died with it (nothing but the WAL record is written before
  // the broadcast): recovery signs them again from that record — the very same hash — and
  // sends them; then dies after broadcasting its own
  const r3 = await runChild(args(3, 'broadcast', 3), 'broadcast')
  expect(recoveredOf(r3)).toEqual([{ nonce: 1, outcome: 'signed-and-sent', hash: signedInR2, error: null }])
  expect(r3.lines).toContain('closed ["r2-0"]')
  const broadcastInR3 = r3.lines.find((l) => l.startsWith('at broadcast 2 '))?.split(' ')[3]
  expect(broadcastInR3).toMatch(/^0x[0-9a-f]{64}$/)

  // round 4: recovery rebuilds round 3's transaction and finds it already mined; then every task runs to the end
  const r4 = await runChild(args(4, 'none', 3), null)
  expect(recoveredOf(r4)).toEqual([{ nonce: 2, outcome: 'already-mined', hash: broadcastInR3, error: null }])
  expect(r4.lines).toContain('closed ["r3-0"]')
  expect(r4.lines.filter((l) => l.startsWith('done '))).toHaveLength(3)
  expect(r4.lines.at(-1)).toBe('finished')

  // the whole trace, read as a verifier would
  const { steps } = await readWalFile(join(dir, 'wal', 'agent-5.wal'), '5')
  const walletSteps = steps.filter((s): s is WalletStep => s.kind === 'wallet')
  // every authorised transaction was sent exactly once: one wallet step per nonce, no gaps,
  // and the account's on-chain transaction count equals the number of wallet steps
  expect(walletSteps.map((s) => s.nonce)).toEqual([0, 1, 2, 3, 4, 5])
  expect(await c.nonce(address)).toBe(walletSteps.length)
  // round r, task i pays 0.<r><i+1> ETH
  const expectedAmounts = ['0.11', '0.21', '0.31', '0.41', '0.42', '0.43'].map((e) => parseEther(e))
  expect(walletSteps.map((s) => BigInt(s.value))).toEqual(expectedAmounts)
  expect(await c.balance(recipient)).toBe(expectedAmounts.reduce((a, b) => a + b))
  // each transaction on chain is the one its wallet step authorised
  const latest = await c.client.getBlockNumber()
  const sentTxs: { to: string | null; value: bigint; nonce: number; input: Hex }[] = []
  for (let b = 0n; b <= latest; b++) {
    const block = await c.client.getBlock({ blockNumber: b, includeTransactions: true })
    for (const tx of block.transactions) if (tx.from.toLowerCase() === address.toLowerCase()) sentTxs.push(tx)
  }
  expect(sentTxs.map((t) => [t.nonce, t.to, t.value, t.input])).toEqual(walletSteps.map((s) => [s.nonce, s.to, BigInt(s.value), s.data]))
  // every interrupted action was closed, with its transaction, and none is left open
  const byAction = new Map<string, Step[]>()
  for (const s of steps) byAction.set(s.actionId, [...(byAction.get(s.actionId) ?? []), s])
  for (const id of ['r1-0', 'r2-0', 'r3-0']) {
    const kinds = byAction.get(id)!.map((s) => (s.kind === 'tool' ? s.tool : s.kind))
    expect(kinds.at(-1)).toBe('output')
    expect(kinds).toContain('covenant.recover')
    const out = byAction.get(id)!.at(-1)!
    expect(out.kind === 'output' && out.result).toMatchObject({ status: 'interrupted' })
  }
  for (const [, s] of byAction) expect(s.at(-1)!.kind).toBe('output')
})
