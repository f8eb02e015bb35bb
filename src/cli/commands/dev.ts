import { InvalidArgumentError, type Command } from 'commander'
import { startInferenceServer } from '../../inference/server.js'
import { startLocalStack } from '../../service/stack.js'
import { DEFAULT_DATA_DIR } from '../env.js'
import { printResult, progress, type GlobalOptions } from '../output.js'
import { devProtocolParams } from '../../bonds/deployment.js'

function seconds(min: number) {
  return (text: string): number => {
    if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > 31_536_000) {
      throw new InvalidArgumentError(`expected whole seconds from ${min} to 31536000`)
    }
    return Number(text)
  }
}

/** Waits for Ctrl-C / SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise<void>((done) => {
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
  })
}

/**
 * `covenant dev`: the embedded infrastructure, kept running — an anvil chain with the
 * contracts deployed, the DA server and the inference container — announced in
 * `.covenant/dev.json` so every other command in another terminal finds it.
 */
export function register(program: Command): void {
  program
    .command('dev')
    .description('run a local chain + DA server + inference container for the other commands (until Ctrl-C)')
    .option('--data-dir <dir>', 'where local state lives', DEFAULT_DATA_DIR)
    .option('--no-inference', 'do not start the inference container')
    .option('--escalation-window <seconds>', 'how long a quorum verdict can be contested (0: no fork backstop)', seconds(0), devProtocolParams.escalationWindow)
    .option('--fork-period <seconds>', 'how long a fork stays open for redemption', seconds(1), devProtocolParams.forkPeriod)
    .action(async (_o, cmd: Command) => {
      const options = cmd.optsWithGlobals<GlobalOptions & { dataDir: string; inference: boolean; escalationWindow: number; forkPeriod: number }>()
      const stack = await startLocalStack({
        dataDir: options.dataDir,
        params: { escalationWindow: options.escalationWindow, forkPeriod: options.forkPeriod },
        onProgress: progress,
        inference: options.inference
          ? async ({ port, host }) => {
              const s = await startInferenceServer({ port, host })
              return { url: s.url, close: () => s.close() }
            }
          : undefined,
      })
      printResult(
        {
          rpcUrl: stack.rpcUrl,
          daUrl: stack.daServer.url,
          inferenceUrl: stack.inference?.url ?? null,
          deployment: stack.deploymentFile,
          devAccounts: stack.accounts.slice(0, 5).map((a, i) => ({ index: i, address: a.address })),
        },
        options,
        (s) =>
          [
            `chain      ${s.rpcUrl}`,
            `DA         ${s.daUrl}`,
            `inference  ${s.inferenceUrl ?? '(off)'}`,
            `deployment ${s.deployment}`,
            'dev accounts (well-known keys, dev only): ' + s.devAccounts.map((a) => `${a.index}=${a.address}`).join(' '),
            'other commands in this directory use this stack; Ctrl-C to stop',
          ].join('\n'),
      )
      await untilSignal()
      progress('stopping the dev stack…')
      await stack.stop()
    })
}
