import { http, type HttpTransport, type HttpTransportConfig } from 'viem'
import { bufferedFetch } from './bufferedFetch.js'

// The HTTP transport of every JSON-RPC client Covenant creates (the wallet's, the bonds
// client's, the committer's reads): viem's `http` transport — its retries, timeouts, batching
// and error classes unchanged — on bufferedFetch (node:http with keep-alive sockets) instead
// of Node's global fetch: 0.75 ms of this process's CPU per call instead of 1.50 on the AMD
// bench VM (bench/rpc-transport.ts).

/** viem's `http` transport over {@link bufferedFetch} (unless the config brings its own `fetchFn`). */
export function rpcTransport(url?: string, config: HttpTransportConfig = {}): HttpTransport {
  return http(url, { ...config, fetchFn: config.fetchFn ?? bufferedFetch })
}
