import type { Command } from 'commander'

/** A command module: adds its command(s) to the program. */
export type CommandModule = { register: (program: Command) => void }

/**
 * A top-level verb: the line `covenant --help` shows, and the module that defines it. The
 * module — and everything it imports (viem, ONNX Runtime, the chain clients…) — is loaded only
 * when that verb runs, so `covenant --version` and `covenant --help` load almost nothing.
 */
export type Verb = {
  /** Must equal the description the module registers (a test compares them). */
  description: string
  load: () => Promise<CommandModule>
}

/** Every verb, by name. Keep this list alphabetical. */
export const verbs: Readonly<Record<string, Verb>> = {
  '8004': {
    description: 'ERC-8004 "Trustless Agents": agent identities and bond-backed validations of Covenant actions',
    load: () => import('./erc8004.js'),
  },
  bond: { description: "move an agent's bond: deposit, withdraw (request, then complete), cancel; status", load: () => import('./bond.js') },
  bonds: { description: "an agent's bond: balance, pending withdrawal and when it unlocks, slashes and disputes", load: () => import('./bonds.js') },
  claim: { description: 'pay out your credits: slash rewards, refunded or forfeited challenger bonds, compensation', load: () => import('./bond.js') },
  da: { description: 'data availability: the local blob store and its eigenda-proxy-compatible API', load: () => import('./da.js') },
  demo: { description: 'the whole Covenant story on embedded defaults (local chain, local DA, local models)', load: () => import('./demo.js') },
  deploy: { description: 'register an agent on chain (manifest on DA, policy, bond) and serve it as a verifiable service', load: () => import('./deploy.js') },
  dev: { description: 'run a local chain + DA server + inference container for the other commands (until Ctrl-C)', load: () => import('./dev.js') },
  dispute: {
    description: 'dispute an action: prove the fault on chain or open a dispute with the challenger bond, then print the outcome',
    load: () => import('./dispute.js'),
  },
  fork: {
    description: 'escalate a quorum verdict to a fork of the staked work token: contest, status, redeem, resolve, claim',
    load: () => import('./fork.js'),
  },
  inference: { description: 'replayable inference: the inference container, models, replay', load: () => import('./inference.js') },
  init: { description: 'scaffold a project: an agent, covenant.config.json (or .ts), package.json with scripts, tsconfig.json', load: () => import('./init.js') },
  keys: { description: 'encrypted key files (Web3 Secret Storage v3, as geth and cast read them): new, import', load: () => import('./keys.js') },
  mcp: { description: 'MCP (Model Context Protocol): serve an agent to other agents as an MCP server', load: () => import('./mcp.js') },
  serve: { description: 'serve deployed agents: HTTP API + explorer + worker', load: () => import('./serve.js') },
  trace: { description: "print an action's trace steps, fetched from DA and checked against the on-chain Merkle roots", load: () => import('./trace.js') },
  verifier: { description: 'run a verifier: watch commitments, replay, challenge, vote', load: () => import('./verifier.js') },
  verify: {
    description: 'check an action: fetch its steps from DA, check them against the chain, replay its inferences (no transaction)',
    load: () => import('./verify.js'),
  },
  worker: { description: "a worker process pulling tasks from the agents' BullMQ queues (needs --redis / REDIS_URL)", load: () => import('./serve.js') },
}
