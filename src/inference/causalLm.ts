import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Template } from '@huggingface/jinja'
import { Tokenizer } from '@huggingface/tokenizers'
import * as ort from 'onnxruntime-node'
import { z } from 'zod'
import { ModelLoadError } from './errors.js'
import type { ModelStore, StoredModel } from './modelStore.js'
import { type DeterministicSettings, sessionOptions } from './settings.js'

/**
 * A decoder-only causal LM from a Hugging Face / Optimum directory (causalLmDir.ts), run
 * on ONNX Runtime with the pinned settings (settings.ts): tokenizer.json through
 * `@huggingface/tokenizers`, the chat template through `@huggingface/jinja`, a KV cache
 * (past_key_values.* fed back from present.*), float32 logits of the last position.
 *
 * Nothing here loads anything remote: both libraries are given the directory's JSON.
 */
export type CausalLm = {
  readonly model: StoredModel
  readonly settings: DeterministicSettings
  readonly tokenizer: Tokenizer
  readonly vocabSize: number
  /** Stop tokens: generation_config.eos_token_id (one or many), else config.json's. */
  readonly eosIds: ReadonlySet<number>
  /** The context length (config.json max_position_embeddings), if stated. */
  readonly maxPositions: number | undefined
  /** Single-token ids of `<tool_call>` / `</tool_call>`, when the tokenizer has them. */
  readonly toolCallOpen: number | undefined
  readonly toolCallClose: number | undefined
  /** The chat template rendered with these messages and tools (add_generation_prompt: true). */
  renderPrompt(messages: ReadonlyArray<Record<string, unknown>>, tools: ReadonlyArray<Record<string, unknown>> | undefined): string
  encode(text: string): number[]
  decode(ids: readonly number[]): string
  /** A decoding session over one prompt: `step` feeds tokens, returns the logits of the last one. */
  start(): CausalLmSession
}

export type CausalLmSession = {
  /** Feeds `ids` (the prompt, then one token at a time) and returns the next-token logits. */
  step(ids: readonly number[]): Promise<Float32Array>
}

const configSchema = z.looseObject({
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().optional(),
  hidden_size: z.number().int().positive(),
  head_dim: z.number().int().positive().optional(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullable().optional(),
  max_position_embeddings: z.number().int().positive().optional(),
})
const generationSchema = z.looseObject({ eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullable().optional() })
const tokenizerConfigSchema = z.looseObject({ chat_template: z.union([z.string(), z.array(z.looseObject({ name: z.string(), template: z.string() }))]).optional() })

const sessions = new Map<string, Promise<ort.InferenceSession>>()
const loaded = new Map<string, Promise<CausalLm>>()

/** One loaded model per (digest, settings) in this process (the server and replays share it). */
export function loadCausalLm(store: ModelStore, model: StoredModel, settings: DeterministicSettings): Promise<CausalLm> {
  const key = `${model.digest}|${JSON.stringify(settings)}`
  let m = loaded.get(key)
  if (!m) {
    m = build(store, model, settings)
    m.catch(() => loaded.delete(key))
    loaded.set(key, m)
  }
  return m
}

function readJson(dir: string, name: string): unknown {
  return JSON.parse(readFileSync(join(dir, name), 'utf8')) as unknown
}

async function build(store: ModelStore, model: StoredModel, settings: DeterministicSettings): Promise<CausalLm> {
  const fail = (message: string) => new ModelLoadError({ model: model.name, cause: new Error(message) })
  if (model.kind !== 'causal-lm' || !model.dir) throw fail('not a causal-LM directory (model.onnx, tokenizer.json, tokenizer_config.json, config.json)')
  const dir = model.dir
  // read() re-hashes every file that matters: what runs is what the digest names
  const { bytes } = store.read(model.digest)
  const config = configSchema.safeParse(readJson(dir, 'config.json'))
  if (!config.success) throw fail(`config.json: ${config.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  const generation = existsSync(join(dir, 'generation_config.json')) ? generationSchema.safeParse(readJson(dir, 'generation_config.json')) : undefined
  if (generation && !generation.success) throw fail('generation_config.json: eos_token_id must be an integer or a list of integers')
  const tokConfigRaw = readJson(dir, 'tokenizer_config.json')
  const tokConfig = tokenizerConfigSchema.safeParse(tokConfigRaw)
  if (!tokConfig.success) throw fail('tokenizer_config.json: chat_template must be a string or a list of { name, template }')
  let templateText: string | undefined
  const ct = tokConfig.data.chat_template
  if (typeof ct === 'string') templateText = ct
  else if (Array.isArray(ct)) templateText = (ct.find((t) => t.name === 'tool_use') ?? ct.find((t) => t.name === 'default'))?.template
  if (existsSync(join(dir, 'chat_template.jinja'))) templateText ??= readFileSync(join(dir, 'chat_template.jinja'), 'utf8')
  if (!templateText) throw fail('no chat template (tokenizer_config.json chat_template, or chat_template.jinja)')
  const template = new Template(templateText)
  const tokenizer = new Tokenizer(readJson(dir, 'tokenizer.json') as object, tokConfigRaw as object)
  const special = tokConfigRaw as { bos_token?: unknown; eos_token?: unknown }
  const tokenText = (t: unknown) => (typeof t === 'string' ? t : typeof t === 'object' && t !== null && typeof (t as { content?: unknown }).content === 'string' ? (t as { content: string }).content : undefined)

  const eosRaw = generation?.data.eos_token_id ?? config.data.eos_token_id
  const eosIds = new Set<number>(eosRaw == null ? [] : Array.isArray(eosRaw) ? eosRaw : [eosRaw])
  const eosText = tokenText(special.eos_token)
  if (eosText !== undefined && tokenizer.token_to_id(eosText) !== undefined) eosIds.add(tokenizer.token_to_id(eosText)!)
  if (eosIds.size === 0) throw fail('no stop token: set eos_token_id in generation_config.json or config.json')

  const sessKey = `${model.digest}|${JSON.stringify(settings)}`
  let s = sessions.get(sessKey)
  if (!s) {
    const external = existsSync(join(dir, 'model.onnx_data')) || existsSync(join(dir, 'model.onnx.data'))
    // with external weights ONNX Runtime must open the file itself (it finds the data beside it); the digest was checked just above
    s = (external ? ort.InferenceSession.create(model.path, sessionOptions(settings)) : ort.InferenceSession.create(bytes, sessionOptions(settings))).catch(
      (cause: unknown) => {
        sessions.delete(sessKey)
        throw new ModelLoadError({ model: model.name, cause })
      },
    )
    sessions.set(sessKey, s)
  }
  const sess = await s
  const pastNames = sess.inputNames.filter((n) => n.startsWith('past_key_values.'))
  for (const n of ['input_ids', 'attention_mask']) if (!sess.inputNames.includes(n)) throw fail(`model.onnx has no input "${n}" (export with --task text-generation-with-past)`)
  if (!sess.outputNames.includes('logits')) throw fail('model.onnx has no output "logits"')
  if (pastNames.length === 0) throw fail('model.onnx has no past_key_values.* inputs: export with --task text-generation-with-past (a KV cache)')
  const usesPositions = sess.inputNames.includes('position_ids')
  const c = config.data
  const kvHeads = c.num_key_value_heads ?? c.num_attention_heads
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads
  const vocabSize = tokenizer.get_vocab(true).size

  const encode = (text: string) => tokenizer.encode(text, { add_special_tokens: false }).ids
  const idOf = (t: string) => tokenizer.token_to_id(t)
  return {
    model,
    settings,
    tokenizer,
    vocabSize,
    eosIds,
    maxPositions: c.max_position_embeddings,
    toolCallOpen: idOf('<tool_call>'),
    toolCallClose: idOf('</tool_call>'),
    renderPrompt: (messages, tools) =>
      template.render({
        messages,
        ...(tools && tools.length > 0 ? { tools } : {}),
        add_generation_prompt: true,
        bos_token: tokenText(special.bos_token) ?? '',
        eos_token: eosText ?? '',
      }),
    encode,
    decode: (ids) => (ids.length === 0 ? '' : tokenizer.decode([...ids], { skip_special_tokens: false })),
    start() {
      let past: Record<string, ort.Tensor> = {}
      for (const n of pastNames) past[n] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim])
      let length = 0
      return {
        async step(ids) {
          const n = ids.length
          const total = length + n
          const feeds: Record<string, ort.Tensor> = {
            input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [1, n]),
            attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
            ...past,
          }
          if (usesPositions) feeds['position_ids'] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(length + i)), [1, n])
          const out = await sess.run(feeds)
          const logits = out['logits']!
          const v = logits.dims.at(-1)!
          const data = logits.data as Float32Array
          const last = data.slice((n - 1) * v, n * v)
          const next: Record<string, ort.Tensor> = {}
          for (const name of pastNames) next[name] = out[name.replace('past_key_values.', 'present.')]!
          past = next
          length = total
          return last
        },
      }
    },
  }
}
