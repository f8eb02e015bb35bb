import { createHash } from 'node:crypto'
import { endianness } from 'node:os'
import { InvalidTensorError } from './errors.js'
import type { Hash } from './hash.js'

/**
 * Canonical tensor encoding. A tensor is (name, dtype, shape, data); its canonical bytes
 * are the elements in row-major order, little-endian, with no padding. A set of tensors
 * hashes as
 *
 *   sha256( "covenant.tensors.v1\n" ||
 *           for each tensor, sorted by name (UTF-16 order):
 *             utf8(JSON.stringify([name, dtype, shape])) || "\n" || u64le(byteLength) || bytes )
 *
 * so a record's `inputHash`/`outputHash` can be recomputed from the JSON form below in any
 * language. In the JSON form, `data` is base64 of either
 *   - the canonical bytes (no `layout`, or `layout: "dense"`), or
 *   - with `layout: "sparse-v1"`: u32le k || k u32le element indices, strictly increasing and
 *     below the element count || those k elements' canonical bytes. Every element not listed
 *     has all-zero bytes (so -0.0 and NaN are listed like any other value). Decoded, it is the
 *     same canonical bytes, so the hash does not depend on the layout.
 * Records use the sparse layout where it is at most half the dense size (a bag-of-words
 * feature vector: 16 KiB dense, a few hundred bytes sparse).
 */
export const TENSOR_ENCODING = 'covenant.tensors.v1' as const

export const DTYPES = ['float32', 'float64', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'] as const
export type DType = (typeof DTYPES)[number]

export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array

/** A tensor in memory. */
export type TensorValue = { dtype: DType; shape: readonly number[]; data: TensorData }

/** How `data` holds the elements (see the module comment); absent means dense. */
export const TENSOR_LAYOUTS = ['dense', 'sparse-v1'] as const
export type TensorLayout = (typeof TENSOR_LAYOUTS)[number]

/** A tensor as JSON (in replay records and `POST /v1/infer`). */
export type EncodedTensor = { name: string; dtype: DType; shape: number[]; data: string; layout?: TensorLayout | undefined }

const BYTES: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, bool: 1,
}

const CTORS = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
} as const

const LITTLE_ENDIAN = endianness() === 'LE'

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x)
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

export function assertShape(shape: readonly unknown[], what = 'tensor'): asserts shape is number[] {
  if (shape.length > 8) throw new InvalidTensorError(`${what} has rank ${shape.length}; at most 8 is supported`)
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new InvalidTensorError(`${what} shape [${shape.join(', ')}] has a dimension that is not a non-negative integer`)
    }
  }
  if (elementCount(shape as number[]) > 1 << 26) throw new InvalidTensorError(`${what} has more than 2^26 elements`)
}

/** Canonical (little-endian) bytes of a tensor's elements (a copy). */
export function tensorBytes(t: TensorValue): Uint8Array {
  const v = canonicalView(t)
  return v.buffer === t.data.buffer ? v.slice() : v
}

/** The canonical bytes without copying where the platform is little-endian (read only). */
function canonicalView(t: TensorValue): Uint8Array {
  const n = elementCount(t.shape)
  if (t.data.length !== n) {
    throw new InvalidTensorError(`shape [${t.shape.join(', ')}] needs ${n} elements, data has ${t.data.length}`)
  }
  if (!(t.data instanceof CTORS[t.dtype])) {
    throw new InvalidTensorError(`dtype ${t.dtype} needs a ${CTORS[t.dtype].name}, got ${t.data.constructor.name}`)
  }
  const view = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
  if (LITTLE_ENDIAN || BYTES[t.dtype] === 1) return view
  const out = new Uint8Array(view.length)
  const w = BYTES[t.dtype]
  for (let i = 0; i < view.length; i += w) for (let j = 0; j < w; j++) out[i + j] = view[i + w - 1 - j]!
  return out
}

/** Rebuilds a tensor from canonical bytes. */
export function tensorFromBytes(dtype: DType, shape: readonly number[], bytes: Uint8Array): TensorValue {
  assertShape(shape)
  const w = BYTES[dtype]
  const n = elementCount(shape)
  if (bytes.length !== n * w) {
    throw new InvalidTensorError(`${dtype} tensor of shape [${shape.join(', ')}] needs ${n * w} bytes, got ${bytes.length}`)
  }
  const buf = new ArrayBuffer(bytes.length)
  const u8 = new Uint8Array(buf)
  if (LITTLE_ENDIAN || w === 1) u8.set(bytes)
  else for (let i = 0; i < bytes.length; i += w) for (let j = 0; j < w; j++) u8[i + j] = bytes[i + w - 1 - j]!
  return { dtype, shape: [...shape], data: new CTORS[dtype](buf) }
}

/**
 * The JSON form of a tensor. `layout: 'auto'` writes the sparse layout when it is at most half
 * the size of the dense one (and leaves `layout` out otherwise); the default is dense, what
 * every reader of the JSON form has always accepted.
 */
export function encodeTensor(name: string, t: TensorValue, layout: 'dense' | 'auto' = 'dense'): EncodedTensor {
  const v = canonicalView(t)
  const dense = (): EncodedTensor => ({ name, dtype: t.dtype, shape: [...t.shape], data: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') })
  if (layout === 'dense') return dense()
  const sparse = sparseBytes(v, BYTES[t.dtype])
  return sparse ? { name, dtype: t.dtype, shape: [...t.shape], data: sparse.toString('base64'), layout: 'sparse-v1' } : dense()
}

/** The sparse-v1 bytes of canonical element bytes, or undefined when they would be more than half the dense size. */
function sparseBytes(v: Uint8Array, w: number): Buffer | undefined {
  const n = v.length / w
  const limit = v.length / 2
  const indices: number[] = []
  if (w === 4 && v.byteOffset % 4 === 0) {
    // 4-byte elements (float32, int32): a word at a time
    const words = new Uint32Array(v.buffer, v.byteOffset, n)
    for (let i = 0; i < n; i++) {
      if (words[i] === 0) continue
      indices.push(i)
      if (4 + indices.length * 8 > limit) return undefined
    }
  } else {
    for (let i = 0; i < n; i++) {
      let o = i * w
      const end = o + w
      while (o < end && v[o] === 0) o++
      if (o === end) continue
      indices.push(i)
      if (4 + indices.length * (4 + w) > limit) return undefined
    }
  }
  const k = indices.length
  const out = Buffer.allocUnsafe(4 + k * (4 + w))
  out.writeUInt32LE(k, 0)
  for (let j = 0; j < k; j++) {
    const i = indices[j]!
    out.writeUInt32LE(i, 4 + 4 * j)
    out.set(v.subarray(i * w, i * w + w), 4 + 4 * k + j * w)
  }
  return out
}

/** The canonical element bytes of a sparse-v1 payload; throws on anything malformed. */
function denseFromSparse(name: string, dtype: DType, shape: readonly number[], bytes: Buffer): Uint8Array {
  const w = BYTES[dtype]
  const n = elementCount(shape)
  const bad = (why: string) =>
    new InvalidTensorError(`tensor "${name}" sparse-v1 data ${why}`, { hint: 'sparse-v1 is u32le k, then k u32le strictly increasing element indices, then those k elements\' little-endian bytes.' })
  if (bytes.length < 4) throw bad('is shorter than its 4-byte count')
  const k = bytes.readUInt32LE(0)
  if (k > n) throw bad(`lists ${k} elements; the shape has ${n}`)
  if (bytes.length !== 4 + k * (4 + w)) throw bad(`is ${bytes.length} bytes; ${k} ${dtype} elements need ${4 + k * (4 + w)}`)
  const out = new Uint8Array(n * w)
  let last = -1
  for (let j = 0; j < k; j++) {
    const i = bytes.readUInt32LE(4 + 4 * j)
    if (i <= last) throw bad(`has index ${i} after ${last}: indices must be strictly increasing`)
    if (i >= n) throw bad(`has index ${i}; the shape has ${n} elements`)
    last = i
    out.set(bytes.subarray(4 + 4 * k + j * w, 4 + 4 * k + (j + 1) * w), i * w)
  }
  return out
}

/** The canonical element bytes a JSON-form tensor holds (dense or sparse), checked. */
function encodedBytes(e: EncodedTensor): Uint8Array {
  if (!isDType(e.dtype)) throw new InvalidTensorError(`unknown dtype "${String(e.dtype)}"`, { hint: `Use one of ${DTYPES.join(', ')}.` })
  if (!Array.isArray(e.shape)) throw new InvalidTensorError(`tensor "${e.name}" has no shape array`)
  assertShape(e.shape, `tensor "${e.name}"`)
  const layout = e.layout ?? 'dense'
  if (layout !== 'dense' && layout !== 'sparse-v1') {
    throw new InvalidTensorError(`tensor "${e.name}" has unknown layout "${String(layout)}"`, { hint: 'Use "dense" (or leave layout out) or "sparse-v1".' })
  }
  const bytes = typeof e.data === 'string' ? Buffer.from(e.data, 'base64') : undefined
  // Node's decoder skips characters that are not base64, so any such character leaves fewer
  // bytes than the padded length implies (cheaper than a regex or re-encoding).
  if (!bytes || e.data.length % 4 !== 0 || e.data.length !== 4 * Math.ceil(bytes.length / 3)) {
    throw new InvalidTensorError(`tensor "${e.name}" data is not canonical base64`, { hint: 'data holds the little-endian element bytes in base64 (with = padding).' })
  }
  return layout === 'sparse-v1' ? denseFromSparse(e.name, e.dtype, e.shape, bytes) : bytes
}

export function decodeTensor(e: EncodedTensor): TensorValue {
  return tensorFromBytes(e.dtype, e.shape, encodedBytes(e))
}

/** Hash of a named set of tensors (see the module comment). */
export function hashTensors(tensors: Readonly<Record<string, TensorValue>>): Hash {
  const h = createHash('sha256').update(`${TENSOR_ENCODING}\n`)
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]!
    hashPart(h, name, t.dtype, t.shape, canonicalView(t))
  }
  return `0x${h.digest('hex')}`
}

/** Hash of tensors in their JSON form, without decoding them to typed arrays. */
export function hashEncodedTensors(tensors: readonly EncodedTensor[]): Hash {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const h = createHash('sha256').update(`${TENSOR_ENCODING}\n`)
  for (const t of sorted) hashPart(h, t.name, t.dtype, t.shape, t.layout === 'sparse-v1' ? encodedBytes(t) : Buffer.from(t.data, 'base64'))
  return `0x${h.digest('hex')}`
}

function hashPart(h: ReturnType<typeof createHash>, name: string, dtype: DType, shape: readonly number[], bytes: Uint8Array): void {
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(bytes.length))
  h.update(`${JSON.stringify([name, dtype, shape])}\n`).update(len).update(bytes)
}

/** Reads element i as a number (bigints converted; float16 decoded). */
export function elementAt(t: TensorValue, i: number): number {
  const v = t.data[i]!
  if (typeof v === 'bigint') return Number(v)
  if (t.dtype === 'float16') return halfToFloat(v)
  return v
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * 2 ** -14 * (f / 1024)
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY
  return s * 2 ** (e - 15) * (1 + f / 1024)
}

/** Builds a tensor from plain numbers (JSON input); integers only for int64/uint64. */
export function tensorFromNumbers(dtype: DType, shape: readonly number[], values: readonly number[]): TensorValue {
  assertShape(shape)
  const n = elementCount(shape)
  if (values.length !== n) throw new InvalidTensorError(`shape [${shape.join(', ')}] needs ${n} numbers, got ${values.length}`)
  if (dtype === 'float16') throw new InvalidTensorError('float16 tensors must be sent as base64 bytes')
  if (dtype === 'int64' || dtype === 'uint64') {
    if (values.some((x) => !Number.isSafeInteger(x))) throw new InvalidTensorError(`${dtype} values must be safe integers`)
    const data = dtype === 'int64' ? BigInt64Array.from(values, BigInt) : BigUint64Array.from(values, BigInt)
    return { dtype, shape: [...shape], data }
  }
  return { dtype, shape: [...shape], data: (CTORS[dtype] as unknown as { from(v: readonly number[]): TensorData }).from(values) }
}
