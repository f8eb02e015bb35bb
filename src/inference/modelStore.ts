import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { causalLmDigest, causalLmFiles, isCausalLmDir } from './causalLmDir.js'
import { packageRoot } from '../packageRoot.js'
import { ModelDigestMismatchError, ModelNotFoundError } from './errors.js'
import { type Hash, sha256Hex } from './hash.js'

/** A model the store knows: its name, file, and the sha256 of its bytes. */
export type StoredModel = {
  name: string
  path: string
  digest: Hash
  sizeBytes: number
  /** The model's meta.json (labels, featurizer, eval figures), if it has one. */
  meta: Record<string, unknown> | undefined
  /**
   * 'causal-lm': a Hugging Face / Optimum directory (causalLmDir.ts); `path` is its
   * model.onnx, `dir` the directory, and `digest` covers every file that matters, not only
   * model.onnx. Absent: a single-file model (digest = sha256 of model.onnx).
   */
  kind?: 'causal-lm' | undefined
  dir?: string | undefined
}

export type ModelStore = {
  /** Every model, by name. */
  list(): StoredModel[]
  /** The model with this name or digest, or undefined. */
  find(nameOrDigest: string): StoredModel | undefined
  /** The model with this name or digest; throws ModelNotFoundError. */
  get(nameOrDigest: string): StoredModel
  /**
   * Reads the model's bytes and checks they still hash to its digest (a file swapped after
   * the store indexed it throws ModelDigestMismatchError). Sessions are created from these
   * exact bytes, so what runs is what was hashed.
   */
  read(nameOrDigest: string): { model: StoredModel; bytes: Uint8Array }
}

export type CreateModelStoreParameters = {
  /**
   * Directory whose subdirectories hold `model.onnx` (+ `meta.json`); the name is the
   * subdirectory's. @defaultValue the repository's `models/`
   */
  root?: string | undefined
  /** Extra models, by name: a model file, or a causal-LM directory (`covenant inference serve --model <dir>`). */
  models?: ReadonlyArray<{ name: string; path: string }> | undefined
}

/** `models/` beside Covenant's package.json: the repository's, or the installed package's. */
export const SHIPPED_MODELS_DIR = join(packageRoot(), 'models')

/** Indexes models by digest (hashing each file once, now). */
export function createModelStore(p: CreateModelStoreParameters = {}): ModelStore {
  const root = resolve(p.root ?? SHIPPED_MODELS_DIR)
  const entries: Array<{ name: string; path: string }> = []
  if (existsSync(root)) {
    for (const dir of readdirSync(root).sort()) {
      const path = join(root, dir, 'model.onnx')
      if (isCausalLmDir(join(root, dir))) entries.push({ name: dir, path: join(root, dir) })
      else if (existsSync(path) && statSync(path).isFile()) entries.push({ name: dir, path })
    }
  }
  entries.push(...(p.models ?? []).map((m) => ({ name: m.name, path: resolve(m.path) })))

  const models = new Map<string, StoredModel>()
  for (const { name, path } of entries) {
    if (isCausalLmDir(path)) {
      models.set(name, causalLmEntry(name, path))
      continue
    }
    const bytes = readFileSync(path)
    const metaPath = join(path, '..', 'meta.json')
    const meta = existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, unknown>) : undefined
    models.set(name, { name, path, digest: sha256Hex(bytes), sizeBytes: bytes.length, meta })
  }

  const find = (key: string): StoredModel | undefined => {
    const k = key.toLowerCase()
    if (/^0x[0-9a-f]{64}$/.test(k)) return [...models.values()].find((m) => m.digest === k)
    return models.get(key)
  }
  const get = (key: string): StoredModel => {
    const m = find(key)
    if (!m) throw new ModelNotFoundError({ model: key, known: [...models.values()].map((x) => `${x.name} (${x.digest})`) })
    return m
  }
  return {
    list: () => [...models.values()],
    find,
    get,
    read(key) {
      const model = get(key)
      const bytes = new Uint8Array(readFileSync(model.path))
      const actual = model.kind === 'causal-lm' ? causalLmDigest(causalLmFiles(model.dir!)) : sha256Hex(bytes)
      if (actual !== model.digest) throw new ModelDigestMismatchError({ path: model.path, expected: model.digest, actual })
      return { model, bytes }
    },
  }
}

function causalLmEntry(name: string, dir: string): StoredModel {
  const files = causalLmFiles(dir)
  const metaPath = join(dir, 'meta.json')
  const meta = existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, unknown>) : undefined
  return {
    name: name || basename(dir),
    path: join(dir, 'model.onnx'),
    dir,
    kind: 'causal-lm',
    digest: causalLmDigest(files),
    sizeBytes: files.reduce((n, f) => n + f.size, 0),
    meta,
  }
}

let shipped: ModelStore | undefined

/** The store of the repository's shipped models (created on first use). */
export function shippedModelStore(): ModelStore {
  shipped ??= createModelStore()
  return shipped
}
