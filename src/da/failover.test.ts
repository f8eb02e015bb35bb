import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { localCommitment } from './commitment.js'
import { EigenDAProxyClient } from './eigendaProxyClient.js'
import {
  AllDAClientsFailedError,
  BlobCorruptedError,
  BlobNotFoundError,
  BlobTooLargeError,
  DAUnavailableError,
} from './errors.js'
import { FailoverDAClient } from './failover.js'
import { LocalDAStore } from './localStore.js'
import { type DAServer, startDAServer } from './server.js'
import { bytesOf, deadUrl, storedCopy } from './_helpers.js'

let dirs: string[] = []
let servers: DAServer[] = []
let primaryStore: LocalDAStore
let secondaryStore: LocalDAStore
let primary: EigenDAProxyClient
let secondary: EigenDAProxyClient
let down: EigenDAProxyClient

beforeAll(async () => {
  dirs = await Promise.all([1, 2].map(() => mkdtemp(join(tmpdir(), 'covenant-failover-'))))
  primaryStore = new LocalDAStore({ dir: dirs[0]! })
  secondaryStore = new LocalDAStore({ dir: dirs[1]! })
  servers = await Promise.all([primaryStore, secondaryStore].map((store) => startDAServer({ store, port: 0 })))
  down = new EigenDAProxyClient({ url: await deadUrl(), retries: 0 })
  primary = new EigenDAProxyClient({ url: servers[0]!.url, retries: 0 })
  secondary = new EigenDAProxyClient({ url: servers[1]!.url, retries: 0 })
})
afterAll(async () => {
  for (const s of servers) await s.close()
  // the servers leave their stores to their owner
  await Promise.all([primaryStore?.close(), secondaryStore?.close()])
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected an error')
    },
    (e: unknown) => e,
  )
}

describe('FailoverDAClient', () => {
  test('put moves past an unavailable client; get finds the blob where it is', async () => {
    const events: string[] = []
    const da = new FailoverDAClient([down, secondary], { onFailover: (e) => events.push(`${e.operation}:${e.client}`) })
    const blob = bytesOf(3000, 1)
    const c = await da.put(blob)
    expect(await secondaryStore.get(c)).toEqual(blob)
    expect(events).toEqual([`put:${down.name}`])
    const reader = new FailoverDAClient([primary, down, secondary])
    expect(await reader.get(c)).toEqual(blob)
  })

  test('a blob too large fails at once, without trying the others', async () => {
    const events: string[] = []
    const small = new LocalDAStore({ dir: dirs[0]!, maxBlobBytes: 10 })
    const da = new FailoverDAClient([small, secondary], { onFailover: (e) => events.push(e.client) })
    expect(await caught(da.put(new Uint8Array(11)))).toBeInstanceOf(BlobTooLargeError)
    expect(events).toEqual([])
  })

  test('a damaged copy on one replica is skipped', async () => {
    const blob = bytesOf(500, 2)
    const c = await primaryStore.put(blob)
    await secondaryStore.put(blob)
    await (await storedCopy(primaryStore, c)).overwrite(bytesOf(500, 3))
    expect(await caught(primaryStore.get(c))).toBeInstanceOf(BlobCorruptedError)
    expect(await new FailoverDAClient([primaryStore, secondary]).get(c)).toEqual(blob)
  })

  test('missing everywhere is BlobNotFoundError; all down is AllDAClientsFailedError naming each', async () => {
    const missing = localCommitment(bytesOf(9, 9))
    expect(await caught(new FailoverDAClient([primary, secondary]).get(missing))).toBeInstanceOf(BlobNotFoundError)
    const other = new EigenDAProxyClient({ url: await deadUrl(), retries: 0 })
    const err = (await caught(new FailoverDAClient([down, other]).put(bytesOf(4)))) as AllDAClientsFailedError
    expect(err).toBeInstanceOf(AllDAClientsFailedError)
    expect(err.errors.every((e) => e instanceof DAUnavailableError)).toBe(true)
    expect(err.metaMessages).toHaveLength(2)
  })

  test('health is up while any client is', async () => {
    expect(await new FailoverDAClient([down, secondary]).health()).toMatchObject({ ok: true })
    expect(await new FailoverDAClient([down]).health()).toMatchObject({ ok: false })
  })
})
