// Child of bufferedFetch.test.ts: one JSON-RPC call over rpcTransport, then nothing. The process
// must exit on its own although its kept-alive connection to the server is still open.
import { createPublicClient } from 'viem'
import { rpcTransport } from './rpcTransport.js'

const url = process.argv[2]
if (!url) throw new Error('usage: rpcTransport.exit-child <rpc url>')
process.stdout.write(`${await createPublicClient({ transport: rpcTransport(url) }).getChainId()}\n`)
