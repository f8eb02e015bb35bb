import type { PublicClient } from 'viem'

/**
 * Dev-chain time travel (anvil): move the clock forward and mine a block, so tests and
 * the demo can pass challenge windows and unbonding delays without waiting.
 */
export async function increaseTime(publicClient: PublicClient, seconds: number): Promise<void> {
  await publicClient.request({ method: 'evm_increaseTime' as never, params: [seconds] as never })
  await publicClient.request({ method: 'evm_mine' as never, params: [] as never })
}

/** Mines one block on a dev chain. */
export async function mine(publicClient: PublicClient): Promise<void> {
  await publicClient.request({ method: 'evm_mine' as never, params: [] as never })
}

/** Latest block timestamp, seconds. */
export async function chainTime(publicClient: PublicClient): Promise<number> {
  const block = await publicClient.getBlock({ blockTag: 'latest' })
  return Number(block.timestamp)
}

/**
 * Keeps a dev chain's clock moving: anvil mines only on transactions, so on an idle chain
 * no deadline, challenge window or grace period ever passes. Every `intervalMs` in which
 * no block was mined, this mines an empty one (its timestamp is the wall clock, plus any
 * offset an `evm_increaseTime` added). Returns a stop function. Dev chains only.
 */
export function startIdleMining(publicClient: PublicClient, intervalMs = 2_000): () => void {
  let last: bigint | undefined
  let busy = false
  const timer = setInterval(() => {
    if (busy) return
    busy = true
    publicClient
      .getBlockNumber({ cacheTime: 0 })
      .then(async (n) => {
        if (last !== undefined && n === last) await mine(publicClient)
        last = n === last ? n + 1n : n
      })
      .catch(() => {})
      .finally(() => {
        busy = false
      })
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
