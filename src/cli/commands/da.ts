import { resolve } from 'node:path'
import { type Command, InvalidArgumentError } from 'commander'
import { LocalDAStore, startDAServer } from '../../da/index.js'
import { type GlobalOptions, printResult, progress } from '../output.js'

type ServeOptions = GlobalOptions & { port: number; host: string; dir: string }

function parsePort(value: string): number {
  const port = Number(value)
  if (!/^\d+$/.test(value) || port > 65_535) throw new InvalidArgumentError('expected a port number 0-65535 (0 picks a free one)')
  return port
}

/**
 * `covenant da serve`: the embedded local DA store over the eigenda-proxy REST API (standard
 * commitments, and OP alt-DA's generic and keccak256 routes), so EigenDAProxyClient, OP
 * Stack's alt-DA client, or anything else built for eigenda-proxy can use it. Runs until
 * SIGINT/SIGTERM.
 */
export function register(program: Command): void {
  const da = program.command('da').description('data availability: the local blob store and its eigenda-proxy-compatible API')
  da.command('serve')
    .description('serve a local DA store over the eigenda-proxy REST API (POST /put, POST /put/0x00<keccak>, GET /get/0x<commitment>, GET /health)')
    .option('--port <n>', 'port to listen on; 0 picks a free one', parsePort, 3100)
    .option('--host <h>', 'interface to listen on', '127.0.0.1')
    .option('--dir <d>', 'directory holding the blobs', '.covenant/da')
    .action(async (_opts, cmd: Command) => {
      const options = cmd.optsWithGlobals<ServeOptions>()
      const dir = resolve(options.dir)
      const store = new LocalDAStore({ dir })
      const server = await startDAServer({ store, port: options.port, host: options.host })
      printResult({ url: server.url, host: server.host, port: server.port, dir }, options, (s) =>
        [
          `DA store ${s.dir}`,
          `serving the eigenda-proxy API on ${s.url}`,
          `  POST ${s.url}/put?commitment_mode=standard              → 0xc0 ‖ sha256`,
          `  POST ${s.url}/put                                       → 0x01 0x00 0xc0 ‖ sha256 (OP generic)`,
          `  POST ${s.url}/put/0x00<keccak256(body)>                 (OP keccak256)`,
          `  GET  ${s.url}/get/0x<commitment>?commitment_mode=standard`,
          `  GET  ${s.url}/get/0x<OP commitment>`,
          `  GET  ${s.url}/health`,
        ].join('\n'),
      )
      await new Promise<void>((done) => {
        process.once('SIGINT', done)
        process.once('SIGTERM', done)
      })
      progress('stopping the DA server…')
      await server.close()
      await store.close()
    })
}
