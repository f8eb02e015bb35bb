/**
 * The wait before the next ask for a broadcast transaction's receipt, after `attempt` asks
 * that found none: none twice (a request's own round trip is the wait), then 1, 2, 4, 8, …
 * ms, each capped at the polling interval, then the polling interval. A node that mines at
 * once (a dev chain's automine, a sequencer's preconfirmation) has the receipt a millisecond
 * or two after it accepted the transaction; a chain with blocks is asked once a polling
 * interval, as before. The early asks cost at most log2(pollingIntervalMs) + 3 requests
 * per transaction (9 at 100 ms).
 */
export function receiptPollDelay(attempt: number, pollingIntervalMs: number): number {
  if (attempt < 2) return 0
  return Math.min(2 ** Math.min(attempt - 2, 30), pollingIntervalMs)
}

export type WaitForReceiptParameters<R> = {
  /** Asks the node once: the receipt, or null while it has none. May throw (a node error). */
  get: () => Promise<R | null>
  pollingIntervalMs: number
  timeoutMs: number
}

/** The receipt, or no receipt within the time: `cause` is the last error the node gave, if any. */
export class NoReceiptYet extends Error {
  override name = 'NoReceiptYet' as const
}

/**
 * Asks for a receipt until there is one: at once, then after each {@link receiptPollDelay}.
 * One request per ask (where viem's `waitForTransactionReceipt`, when its first ask finds
 * nothing, goes on with the block number and the transaction itself before asking again:
 * three requests, about 2.5 ms on a local node, for a receipt that was a millisecond
 * away). A node error does not end the wait: it is asked again until `timeoutMs`, and the
 * last error is the cause of the {@link NoReceiptYet} thrown then. Needs one confirmation:
 * the receipt's own block.
 */
export async function waitForReceipt<R>(p: WaitForReceiptParameters<R>): Promise<R> {
  const deadline = performance.now() + p.timeoutMs
  let lastError: unknown
  for (let attempt = 0; ; attempt++) {
    try {
      const receipt = await p.get()
      if (receipt !== null) return receipt
    } catch (err) {
      lastError = err
    }
    const left = deadline - performance.now()
    if (left <= 0) throw new NoReceiptYet(`no receipt within ${p.timeoutMs} ms`, { cause: lastError })
    const wait = Math.min(receiptPollDelay(attempt, p.pollingIntervalMs), left)
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }
}
