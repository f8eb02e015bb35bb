import type { Command } from 'commander'
import { runDemo, type DemoSummary } from '../demo/runDemo.js'
import { untilSignal } from './dev.js'
import { printResult, progress, type GlobalOptions } from '../output.js'

type DemoOptions = GlobalOptions & { keep?: boolean; dataDir?: string }

/**
 * `covenant demo` (`npm run demo`): the whole story on embedded defaults — a local chain,
 * the DA server, the inference container and three verifiers; two example agents deployed
 * as services; tasks through the HTTP API; one operator cheats — a forged inference record
 * whose covered-up tool call its own registered code would not make, then a payment around
 * the trace; the verifiers catch each and the bond is slashed.
 */
export function register(program: Command): void {
  program
    .command('demo')
    .description('the whole Covenant story on embedded defaults (local chain, local DA, local models)')
    .option('--keep', 'keep everything running (and the explorer up) until Ctrl-C')
    .option('--data-dir <dir>', 'where the demo keeps its state', '.covenant/demo')
    .action(async (_o, cmd: Command) => {
      const options = cmd.optsWithGlobals<DemoOptions>()
      const demo = await runDemo({ dataDir: options.dataDir ?? '.covenant/demo', onProgress: progress })
      try {
        printResult(demo.summary, options, formatSummary)
        if (options.keep) {
          progress(`explorer: ${demo.summary.explorerUrl} — everything stays up until Ctrl-C`)
          await untilSignal()
        }
      } finally {
        await demo.stop()
      }
    })
}

function formatSummary(s: DemoSummary): string {
  const lines = ['', '── summary ───────────────────────────────────────────────']
  for (const a of s.agents) {
    lines.push(
      `${a.name.padEnd(11)} #${a.agentId}  bond ${a.bondBefore} → ${a.bondAfter} ETH${a.toppedUp !== '0' ? ` (owner topped up ${a.toppedUp})` : ''}  ` +
        `${a.actions} actions (${a.honestActionsVerified} verified honest)${a.dishonest ? '  [dishonest operator]' : ''}`,
    )
  }
  lines.push('')
  for (const d of s.disputes) {
    lines.push(
      `dispute #${d.disputeId} ${d.kind.padEnd(15)} ${d.status.padEnd(8)} slashed ${d.slashedEth} ETH from #${d.agentId}; ` +
        `challenger ${d.challenger.slice(0, 10)}… credited ${d.challengerReward} ETH`,
    )
  }
  lines.push('', `explorer: ${s.explorerUrl}  (run with --keep to browse it)`, `took ${s.seconds.toFixed(1)} s`)
  return lines.join('\n')
}
