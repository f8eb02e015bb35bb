import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { type Hash, hashJson, sha256Hex } from './hash.js'

/**
 * A causal-LM directory in the Hugging Face / Optimum layout — what
 * `optimum-cli export onnx --task text-generation-with-past` writes:
 *
 *   model.onnx (+ model.onnx_data, external weights)   input_ids, attention_mask, position_ids,
 *                                                       past_key_values.{i}.key/value → logits, present.{i}.*
 *   tokenizer.json, tokenizer_config.json (chat_template), config.json, generation_config.json
 *   chat_template.jinja                                 (newer exports keep the template here)
 *
 * Its digest covers every file that changes what the model computes or how a request
 * becomes tokens: the graph and weights, the tokenizer, the template, the configs (stop
 * tokens). README, licence and safetensors copies are left out (they do not run).
 */
export const CAUSAL_LM_REQUIRED = ['model.onnx', 'tokenizer.json', 'tokenizer_config.json', 'config.json'] as const
const OPTIONAL = ['generation_config.json', 'chat_template.jinja', 'special_tokens_map.json']

export type CausalLmFile = { name: string; sha256: Hash; size: number }

export function isCausalLmDir(dir: string): boolean {
  return existsSync(dir) && statSync(dir).isDirectory() && CAUSAL_LM_REQUIRED.every((f) => existsSync(join(dir, f)))
}

/** The files that matter, sorted by name: the required ones, the optional ones present, and external-data files of model.onnx. */
export function causalLmFileNames(dir: string): string[] {
  const names = new Set<string>([...CAUSAL_LM_REQUIRED, ...OPTIONAL.filter((f) => existsSync(join(dir, f)))])
  for (const f of readdirSync(dir)) if (/^model\.onnx[._]data$|^model\.onnx\.data\d*$/.test(f)) names.add(f)
  return [...names].sort()
}

export function causalLmFiles(dir: string): CausalLmFile[] {
  return causalLmFileNames(dir).map((name) => {
    const bytes = readFileSync(join(dir, name))
    return { name, sha256: sha256Hex(bytes), size: bytes.length }
  })
}

/** The model digest of a directory: sha256 of the canonical JSON of its files' names, sizes and sha256. */
export function causalLmDigest(files: readonly CausalLmFile[]): Hash {
  return hashJson({ kind: 'covenant-causal-lm-dir/v1', files: files.map((f) => ({ name: f.name, sha256: f.sha256, size: f.size })) })
}
