import { readFileSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { type Command, InvalidArgumentError } from 'commander'
import { isCausalLmDir } from '../../inference/causalLmDir.js'
import { createModelStore, shippedModelStore } from '../../inference/modelStore.js'
import { InvalidReplayRecordError } from '../../inference/errors.js'
import { type GlobalOptions, printResult, progress } from '../output.js'

function parsePort(value: string): number {
  const port = Number(value)
  if (!/^\d+$/.test(value) || port > 65_535) throw new InvalidArgumentError('expected a port number 0-65535 (0 picks a free one)')
  return port
}

function parseNumber(value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a non-negative number')
  return n
}

/** The record file as JSON; a missing, unreadable or non-JSON file is an {@link InvalidReplayRecordError}. */
function readRecordFile(path: string): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new InvalidReplayRecordError(`cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? 'unreadable'})`)
  }
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new InvalidReplayRecordError(`${path} is not JSON`)
  }
}

type ServeOptions = GlobalOptions & { port: number; host: string; keyFile?: string; models?: string; model?: string[] }
type ReplayCliOptions = GlobalOptions & { mode?: 'exact' | 'tolerance'; maxAbsDiff?: number; argmax: boolean; models?: string; signer?: string[]; measurement?: string }

function parseSigner(value: string, previous: string[] = []): string[] {
  if (!/^0x[0-9a-fA-F]{40}$/.test(value)) throw new InvalidArgumentError('expected a 0x address (20 bytes)')
  return [...previous, value]
}

function parseMeasurement(value: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) throw new InvalidArgumentError('expected a 0x measurement (32 bytes)')
  return value.toLowerCase()
}

/**
 * `covenant inference …`: the inference container and the tools around it.
 * - `serve`: OpenAI-compatible container for the shipped ONNX models, signed receipts,
 *   simulated attestation. Runs until SIGINT/SIGTERM.
 * - `models`: the models found and their digests (what a manifest pins).
 * - `replay <record.json>`: re-executes a replay record; exit code 2 on a mismatch. An attested
 *   record matches only with a receipt from a key given with `--signer` (the registered one).
 * - `eval`: the shipped eval sets through ONNX Runtime.
 * Each action imports what it runs, so `models` does not load the server or ONNX Runtime.
 */
export function register(program: Command): void {
  const inference = program.command('inference').description('replayable inference: the inference container, models, replay')

  inference
    .command('serve')
    .description('serve the shipped models: POST /v1/chat/completions, POST /v1/infer, GET /v1/models, GET /attestation (simulated quote)')
    .option('--port <n>', 'port to listen on; 0 picks a free one', parsePort, 8000)
    .option('--host <h>', 'interface to listen on', '127.0.0.1')
    .option('--key-file <path>', 'keep the signing key in this encrypted file (password from COVENANT_INFERENCE_KEY_PASSWORD); default: a new ephemeral key per start')
    .option('--models <dir>', 'directory of models (<name>/model.onnx); default: the shipped models')
    .option(
      '--model <dir>',
      'also serve this causal-LM directory (Hugging Face/Optimum ONNX export: model.onnx with past_key_values, tokenizer.json, tokenizer_config.json, config.json); repeatable; named after the directory',
      (v: string, prev: string[] = []) => {
        if (!isCausalLmDir(resolve(v))) {
          throw new InvalidArgumentError(
            'not a causal-LM directory: it needs model.onnx (with past_key_values), tokenizer.json, tokenizer_config.json and config.json — e.g. the output of optimum-cli export onnx --task text-generation-with-past',
          )
        }
        return [...prev, v]
      },
    )
    .action(async (_opts, cmd: Command) => {
      const o = cmd.optsWithGlobals<ServeOptions>()
      const extra = (o.model ?? []).map((dir) => ({ name: basename(resolve(dir)), path: resolve(dir) }))
      // the server (ONNX Runtime, hono, the OpenAI wire format) loads only for `serve`
      const { ephemeralContainerKey, loadOrCreateContainerKey } = await import('../../inference/containerKey.js')
      const { startInferenceServer } = await import('../../inference/server.js')
      const key = o.keyFile ? loadOrCreateContainerKey(resolve(o.keyFile), process.env['COVENANT_INFERENCE_KEY_PASSWORD'] ?? '') : ephemeralContainerKey()
      progress('loading models…')
      const server = await startInferenceServer({
        port: o.port,
        host: o.host,
        key,
        ...(o.models || extra.length > 0 ? { store: createModelStore({ ...(o.models ? { root: resolve(o.models) } : {}), models: extra }) } : {}),
      })
      const info = {
        url: server.url,
        baseURL: server.baseURL,
        address: server.address,
        keySource: key.source,
        measurement: server.measurement,
        attestation: { url: `${server.url}/attestation`, simulated: true },
        models: server.models.map((m) => ({ name: m.model.name, kind: m.kind, digest: m.model.digest })),
      }
      printResult(info, o, (s) =>
        [
          `inference container on ${s.url} (OpenAI base URL ${s.baseURL})`,
          ...s.models.map((m) => `  ${m.kind === 'chat' ? 'chat  ' : 'tensor'} ${m.name.padEnd(14)} ${m.digest}`),
          `  receipts signed by ${s.address} (${s.keySource} key)`,
          `  measurement ${s.measurement}`,
          `  GET ${s.attestation.url} returns a SIMULATED quote: no TEE hardware backs it`,
        ].join('\n'),
      )
      await new Promise<void>((done) => {
        process.once('SIGINT', done)
        process.once('SIGTERM', done)
      })
      progress('stopping the inference container…')
      await server.close()
    })

  inference
    .command('models')
    .description('list the models, their sha256 digests and eval figures')
    .option('--models <dir>', 'directory of models; default: the shipped models')
    .action((_opts, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { models?: string }>()
      const store = createModelStore(o.models ? { root: resolve(o.models) } : {})
      const rows = store.list().map((m) => ({ name: m.name, digest: m.digest, sizeBytes: m.sizeBytes, path: m.path, eval: m.meta?.['eval'] ?? null }))
      printResult(rows, o, (rs) => rs.map((r) => `${r.name.padEnd(14)} ${r.digest}  ${(r.sizeBytes / 1024).toFixed(0)} KiB`).join('\n'))
    })

  inference
    .command('replay <record>')
    .description('re-execute a replay record (a JSON file) and compare its output')
    .option('--mode <m>', 'exact or tolerance (default: what the record says)')
    .option('--max-abs-diff <x>', 'tolerance: largest allowed |difference| per output value', parseNumber)
    .option('--no-argmax', 'tolerance: do not require the same argmax')
    .option('--models <dir>', 'directory of models; default: the shipped models')
    .option('--signer <address>', 'a registered receipt key (repeatable): an attested record matches only with a receipt from one of them', parseSigner)
    .option('--measurement <hex>', 'the registered container measurement receipts must name', parseMeasurement)
    .action(async (file: string, _opts, cmd: Command) => {
      const o = cmd.optsWithGlobals<ReplayCliOptions>()
      // an InvalidArgumentError thrown here (not by an option parser) would exit without a word
      if (o.mode && o.mode !== 'exact' && o.mode !== 'tolerance') cmd.error(`error: option '--mode <m>' argument '${o.mode}' is invalid. expected exact or tolerance`)
      const record = readRecordFile(resolve(file))
      const { replay } = await import('../../inference/replay.js')
      const result = await replay(record, {
        ...(o.mode ? { mode: o.mode } : {}),
        tolerance: { maxAbsDiff: o.maxAbsDiff, argmaxMustAgree: o.argmax },
        ...(o.models ? { store: createModelStore({ root: resolve(o.models) }) } : {}),
        registration: { signers: o.signer ?? [], measurement: o.measurement ?? null },
      })
      printResult(result, o, (r) =>
        [
          r.match ? `MATCH (${r.mode})` : `MISMATCH (${r.mode})`,
          `  expected ${r.expectedHash}`,
          `  actual   ${r.actualHash}`,
          ...(r.diff ? [`  ${r.diff.reason}`] : []),
        ].join('\n'),
      )
      if (!result.match) process.exitCode = 2
    })

  inference
    .command('eval')
    .description('run the shipped eval sets through ONNX Runtime and print the figures')
    .option('--write-meta', 'store the figures in each model\'s meta.json as eval.onnx (after a rebuild)')
    .action(async (_opts, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { writeMeta?: boolean }>()
      const { evaluateChat, evaluateModeration } = await import('../../inference/evaluate.js')
      const { runtimeVersion } = await import('../../inference/settings.js')
      progress('moderation…')
      const moderation = await evaluateModeration()
      progress('covenant-chat…')
      const { failures, ...chat } = await evaluateChat()
      if (o.writeMeta) {
        for (const [name, figures] of [['moderation', moderation], ['covenant-chat', chat]] as const) {
          const path = join(shippedModelStore().get(name).path, '..', 'meta.json')
          const meta = JSON.parse(readFileSync(path, 'utf8')) as { eval: Record<string, unknown> }
          meta.eval['onnx'] = { runtime: `onnxruntime-node ${runtimeVersion()}`, ...figures }
          writeFileSync(path, `${JSON.stringify(meta, null, 2)}\n`)
          progress(`wrote ${path}`)
        }
      }
      printResult({ moderation, chat, chatFailures: failures.length }, o, (r) =>
        [
          `moderation     accuracy ${r.moderation.accuracy} on ${r.moderation.size} (${Object.entries(r.moderation.bySplit).map(([k, v]) => `${k} ${v.accuracy}`).join(', ')})`,
          `covenant-chat  exact match ${r.chat.accuracy} on ${r.chat.size} (${Object.entries(r.chat.bySplit).map(([k, v]) => `${k} ${v.accuracy}`).join(', ')})`,
        ].join('\n'),
      )
    })
}
