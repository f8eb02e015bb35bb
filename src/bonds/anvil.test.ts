import { existsSync, readdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, http, numberToHex, type PublicClient } from 'viem'
import { expect, test } from 'vitest'
import { startAnvil } from './anvil.js'

const foundryTmp = join(homedir(), '.foundry', 'anvil', 'tmp')
const entries = (dir: string) => (existsSync(dir) ? readdirSync(dir) : [])
/** Every file under `dir`, one level of subdirectories deep (anvil puts one directory per node in its cache path). */
const filesUnder = (dir: string) => entries(dir).flatMap((d) => entries(join(dir, d)))

test('the states of old blocks go to a temporary directory of the node, removed when it stops, not to ~/.foundry', async () => {
  const before = entries(foundryTmp)
  const anvil = await startAnvil({ accounts: 1 })
  const client = createPublicClient({ transport: http(anvil.rpcUrl) }) as PublicClient
  try {
    // past the node's in-memory window: older states are written to disk
    await client.request({ method: 'anvil_mine' as never, params: [numberToHex(600)] as never })
    expect((await client.getBlockNumber()) >= 600n).toBe(true)
    await expect.poll(() => filesUnder(anvil.stateCacheDir).length, { timeout: 10_000 }).toBeGreaterThan(0)
    // and an old block's state still answers
    expect(await client.getBalance({ address: anvil.accounts[0]!.address, blockNumber: 1n })).toBeGreaterThan(0n)
  } finally {
    await anvil.stop()
  }
  expect(existsSync(anvil.stateCacheDir)).toBe(false)
  expect(entries(foundryTmp).filter((d) => !before.includes(d))).toEqual([])
})

test('a node that dies on its own leaves no state directory either', async () => {
  const anvil = await startAnvil({ accounts: 1 })
  const exited = new Promise((resolve) => anvil.process.once('exit', resolve))
  anvil.process.kill('SIGKILL')
  await exited
  await anvil.stop()
  expect(existsSync(anvil.stateCacheDir)).toBe(false)
})
