// bench/rpc-transport: what one JSON-RPC call costs the calling process, through viem's `http`
// transport on Node's global fetch (undici) and on Covenant's rpcTransport (node:http with a
// keep-alive agent, src/http/rpcTransport.ts), against one anvil.
//
//   npx tsx bench/rpc-transport.ts [--json] [--calls 500] [--rounds 3]
//
// Each round times N sequential `eth_getBalance` calls per transport (after 100 warm-up
// calls), alternating the transports from round to round; prints the median over rounds of
// wall time and of this process's CPU (user + system) per call. The node's own work is in the
// wall time, not in the CPU. Numbers depend on the machine and its load; this asserts nothing.
import { cpus, loadavg } from 'node:os'
import { createPublicClient, http, type Transport } from 'viem'
import { rpcTransport } from '../src/http/rpcTransport.js'
import { startTestChain } from '../test/fixtures/chain.js'
import { flag, intOpt } from './lib/args.js'
import { median } from './lib/stats.js'

const json = flag('--json')
const CALLS = intOpt('--calls', 500)
const ROUNDS = intOpt('--rounds', 3)
const round3 = (x: number) => Math.round(x * 1000) / 1000

const chain = await startTestChain({})
try {
  const url = chain.anvil.rpcUrl
  const address = chain.account(1).address
  const arms: Record<'fetch' | 'rpcTransport', Transport> = { fetch: http(url), rpcTransport: rpcTransport(url) }
  const got: Record<string, { wall: number[]; cpu: number[] }> = { fetch: { wall: [], cpu: [] }, rpcTransport: { wall: [], cpu: [] } }
  if (!json) process.stderr.write(`bench/rpc-transport — ${cpus()[0]?.model ?? 'cpu'} ×${cpus().length}, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}; ${CALLS} calls × ${ROUNDS} rounds per transport\n`)
  for (let r = 0; r < ROUNDS; r++) {
    const order = (r % 2 === 0 ? ['fetch', 'rpcTransport'] : ['rpcTransport', 'fetch']) as (keyof typeof arms)[]
    for (const name of order) {
      const client = createPublicClient({ transport: arms[name], cacheTime: 0 })
      for (let i = 0; i < 100; i++) await client.getBalance({ address })
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      for (let i = 0; i < CALLS; i++) await client.getBalance({ address })
      const c = process.cpuUsage(c0)
      got[name]!.wall.push((performance.now() - t0) / CALLS)
      got[name]!.cpu.push((c.user + c.system) / 1000 / CALLS)
    }
  }
  const result = {
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
    calls: CALLS,
    rounds: ROUNDS,
    perCallMs: Object.fromEntries(Object.entries(got).map(([k, v]) => [k, { wall: round3(median(v.wall)), cpu: round3(median(v.cpu)) }])),
  }
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  else {
    process.stdout.write(`one eth_getBalance, median of ${ROUNDS} rounds of ${CALLS}:\n`)
    for (const [k, v] of Object.entries(result.perCallMs)) process.stdout.write(`  ${k.padEnd(13)} wall ${v.wall.toFixed(3)} ms, this process's CPU ${v.cpu.toFixed(3)} ms\n`)
  }
} finally {
  await chain.stop()
}
