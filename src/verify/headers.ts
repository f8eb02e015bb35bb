import { open } from 'node:fs/promises'
import { isAddressEqual, recoverTypedDataAddress, type Address, type Hex } from 'viem'
import { batchHeaderTypedData, type BatchHeader, type CovenantDeployment } from '../bonds/index.js'
import { HeaderSourceError } from './errors.js'
import { signedHeaderSchema, type SignedHeader } from './schemas.js'

/**
 * Where operator-signed batch headers come from: receipts the operator handed out (the
 * committer appends each one to a headers file; a service may serve them over HTTP). A
 * signed header that differs from what was committed for its sequence — or two different
 * signed headers for one sequence — is equivocation, provable on chain.
 */
export interface HeaderSource {
  readonly name: string
  /** Headers not returned by an earlier call. Lines that are not signed headers are reported through `onInvalid`. */
  poll(): Promise<SignedHeader[]>
}

export type HeaderSourceOptions = {
  onInvalid?: ((error: HeaderSourceError) => void) | undefined
}

function parseLine(line: string, where: string, onInvalid: HeaderSourceOptions['onInvalid']): SignedHeader | undefined {
  let raw: unknown
  try {
    raw = JSON.parse(line)
  } catch {
    onInvalid?.(new HeaderSourceError(`${where}: not JSON.`))
    return undefined
  }
  const parsed = signedHeaderSchema.safeParse(raw)
  if (!parsed.success) {
    onInvalid?.(new HeaderSourceError(`${where}: not a signed batch header (${parsed.error.issues[0]?.message ?? 'invalid'}).`))
    return undefined
  }
  return parsed.data
}

/** A JSON-lines file of `{ header, signature }` (what the Committer's `headersFile` holds); read incrementally. */
export function jsonlHeaderSource(path: string, options: HeaderSourceOptions = {}): HeaderSource {
  let offset = 0
  let line = 0
  return {
    name: `headers file ${path}`,
    async poll() {
      const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined
        throw err
      })
      if (!fh) return []
      try {
        const { size } = await fh.stat()
        if (size < offset) offset = 0 // replaced or truncated: read again from the start
        if (size === offset) return []
        const buf = Buffer.alloc(size - offset)
        await fh.read(buf, 0, buf.length, offset)
        const text = buf.toString('utf8')
        const end = text.lastIndexOf('\n')
        if (end < 0) return [] // a line still being written
        offset += Buffer.byteLength(text.slice(0, end + 1))
        const out: SignedHeader[] = []
        for (const l of text.slice(0, end).split('\n')) {
          line++
          if (!l.trim()) continue
          const h = parseLine(l, `${path}:${line}`, options.onInvalid)
          if (h) out.push(h)
        }
        return out
      } finally {
        await fh.close()
      }
    },
  }
}

/** An HTTP endpoint answering a JSON array or JSON lines of signed headers; polled, deduplicated. */
export function httpHeaderSource(url: string, options: HeaderSourceOptions & { timeoutMs?: number | undefined } = {}): HeaderSource {
  const seen = new Set<string>()
  return {
    name: `headers endpoint ${url}`,
    async poll() {
      let text: string
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) })
        if (!res.ok) throw new HeaderSourceError(`${url} answered ${res.status}.`)
        text = await res.text()
      } catch (cause) {
        if (cause instanceof HeaderSourceError) throw cause
        throw new HeaderSourceError(`Cannot fetch signed headers from ${url}.`, { cause })
      }
      const trimmed = text.trim()
      let items: string[]
      if (trimmed.startsWith('[')) {
        try {
          items = (JSON.parse(trimmed) as unknown[]).map((x) => JSON.stringify(x))
        } catch (cause) {
          throw new HeaderSourceError(`${url} did not answer valid JSON.`, { cause })
        }
      } else {
        items = trimmed.split('\n').filter((l) => l.trim())
      }
      const out: SignedHeader[] = []
      for (const [i, item] of items.entries()) {
        const h = parseLine(item, `${url} item ${i}`, options.onInvalid)
        if (!h || seen.has(h.signature)) continue
        seen.add(h.signature)
        out.push(h)
      }
      return out
    },
  }
}

export function toBatchHeader(h: SignedHeader['header']): BatchHeader {
  return {
    agentId: h.agentId,
    sequence: h.sequence,
    merkleRoot: h.merkleRoot.toLowerCase() as Hex,
    daCommitmentHash: h.daCommitmentHash.toLowerCase() as Hex,
    stepCount: h.stepCount,
  }
}

/** Whether `signature` is `operator`'s EIP-712 signature of the header (TraceLog domain). */
export async function isOperatorSigned(deployment: CovenantDeployment, h: SignedHeader, operator: Address): Promise<boolean> {
  try {
    const signer = await recoverTypedDataAddress({ ...batchHeaderTypedData(deployment, toBatchHeader(h.header)), signature: h.signature })
    return isAddressEqual(signer, operator)
  } catch {
    return false
  }
}

export function sameHeader(a: BatchHeader, b: BatchHeader): boolean {
  return (
    a.agentId === b.agentId &&
    a.sequence === b.sequence &&
    a.merkleRoot.toLowerCase() === b.merkleRoot.toLowerCase() &&
    a.daCommitmentHash.toLowerCase() === b.daCommitmentHash.toLowerCase() &&
    a.stepCount === b.stepCount
  )
}
