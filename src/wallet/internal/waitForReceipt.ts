/**
 * The wait before the next ask for a broadcast transaction's receipt, after `attempt` asks
 * that found none, `elapsedMs` after the first.
 *
 * Within the first polling interval: none twice (a request's own round trip is the wait),
 * then 1, 2, 4, 8, … ms — a node that mines at once (a dev chain's automine, a sequencer's
 * preconfirmation) has the receipt a millisecond or two after it accepted the transaction.
 * After that, at whole polling intervals from the first ask (1×, 2×, 3×, …), as a poll of
 * the block number started at the broadcast would: on a chain with blocks the asks keep the
 * same phase against the blocks as that poll (viem's wait), not one shifted by the early
 * asks. The early asks cost at most log2(pollingIntervalMs) + 3 requests per transaction
 * (9 at 100 ms).
 */
export function receiptPollDelay(attempt: number, elapsedMs: number, pollingIntervalMs: number): number {
  const early = attempt < 2 ? 0 : 2 ** Math.min(attempt - 2, 30)
  if (elapsedMs + early < pollingIntervalMs) return early
  return pollingIntervalMs - (elapsedMs % pollingIntervalMs)
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
 * away — and, on a client that caches the block number, up to a polling interval more). A
 * node error does not end the wait: it is asked again until `timeoutMs`, and the last error
 * is the cause of the {@link NoReceiptYet} thrown then. Needs one confirmation: the
 * receipt's own block.
 */
export async function waitForReceipt<R>(p: WaitForReceiptParameters<R>): Promise<R> {
  const start = performance.now()
  const deadline = start + p.timeoutMs
  let lastError: unknown
  for (let attempt = 0; ; attempt++) {
    try {
      const receipt = await p.get()
      if (receipt !== null) return receipt
    } catch (err) {
      lastError = err
    }
    const now = performance.now()
    const left = deadline - now
    if (left <= 0) throw new NoReceiptYet(`no receipt within ${p.timeoutMs} ms`, { cause: lastError })
    const wait = Math.min(receiptPollDelay(attempt, now - start, p.pollingIntervalMs), left)
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }
}
