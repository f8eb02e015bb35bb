import { createPublicClient, http, type PublicClient } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startAnvil, type Anvil } from './anvil.js'
import { startIdleMining } from './devTime.js'

let anvil: Anvil
let client: PublicClient
beforeAll(async () => {
  anvil = await startAnvil({ accounts: 1 })
  client = createPublicClient({ transport: http(anvil.rpcUrl) }) as PublicClient
})
afterAll(async () => {
  await anvil?.stop()
})

test('an idle dev chain keeps mining, so deadlines pass without transactions', async () => {
  const start = await client.getBlock()
  const stop = startIdleMining(client, 200)
  try {
    await new Promise((r) => setTimeout(r, 1_500))
  } finally {
    stop()
  }
  const end = await client.getBlock()
  expect(end.number - start.number).toBeGreaterThanOrEqual(3n)
  expect(end.timestamp).toBeGreaterThan(start.timestamp)
  // stopped: no more blocks
  await new Promise((r) => setTimeout(r, 600))
  expect((await client.getBlock()).number).toBe(end.number)
})
