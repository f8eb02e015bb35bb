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
