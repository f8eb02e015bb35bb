import { createHash } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { InvalidTensorError } from './errors.js'
import {
  decodeTensor,
  encodeTensor,
  hashEncodedTensors,
  hashTensors,
  tensorBytes,
  tensorFromBytes,
  tensorFromNumbers,
} from './tensor.js'

describe('canonical tensor encoding', () => {
  test('bytes are little-endian, row-major, no padding', () => {
    const t = { dtype: 'int32' as const, shape: [2], data: Int32Array.from([1, 256]) }
    expect([...tensorBytes(t)]).toEqual([1, 0, 0, 0, 0, 1, 0, 0])
    const f = { dtype: 'float32' as const, shape: [1], data: Float32Array.from([1]) }
    expect([...tensorBytes(f)]).toEqual([0, 0, 0x80, 0x3f])
  })

  test('encode/decode round trip for every integer and float type', () => {
    for (const dtype of ['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'] as const) {
      const t = tensorFromNumbers(dtype, [2, 2], [0, 1, 1, 0])
      const back = decodeTensor(encodeTensor('x', t))
      expect(back.dtype).toBe(dtype)
      expect(back.shape).toEqual([2, 2])
      expect([...tensorBytes(back)]).toEqual([...tensorBytes(t)])
    }
  })

  test('hash is pinned, independent of key order, and equal for JSON and in-memory forms', () => {
    const a = { dtype: 'float32' as const, shape: [1, 3], data: Float32Array.from([0.5, -1, 2]) }
    const b = { dtype: 'int64' as const, shape: [2], data: BigInt64Array.from([1n, -1n]) }
    const h = hashTensors({ a, b })
    expect(h).toBe(hashTensors({ b, a }))
    expect(h).toBe(hashEncodedTensors([encodeTensor('b', b), encodeTensor('a', a)]))
    // Recomputed by hand from the documented layout.
    const part = (name: string, dtype: string, shape: number[], bytes: number[]) => {
      const len = Buffer.alloc(8)
      len.writeBigUInt64LE(BigInt(bytes.length))
      return Buffer.concat([Buffer.from(`${JSON.stringify([name, dtype, shape])}\n`), len, Buffer.from(bytes)])
    }
    const f32 = (x: number) => [...new Uint8Array(Float32Array.from([x]).buffer)]
    const manual = Buffer.concat([
      Buffer.from('covenant.tensors.v1\n'),
      part('a', 'float32', [1, 3], [...f32(0.5), ...f32(-1), ...f32(2)]),
      part('b', 'int64', [2], [1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]),
    ])
    expect(h).toBe(`0x${createHash('sha256').update(manual).digest('hex')}`)
  })

  test('a single flipped bit changes the hash', () => {
    const data = Float32Array.from([0.25, 0.5])
    const before = hashTensors({ y: { dtype: 'float32', shape: [2], data } })
    new Uint8Array(data.buffer)[0]! ^= 1
    expect(hashTensors({ y: { dtype: 'float32', shape: [2], data } })).not.toBe(before)
  })

  test('malformed tensors are rejected with clear errors', () => {
    expect(() => tensorBytes({ dtype: 'float32', shape: [3], data: Float32Array.from([1]) })).toThrow(InvalidTensorError)
    expect(() => decodeTensor({ name: 'x', dtype: 'float32', shape: [2], data: 'AAAA' })).toThrowErrorMatchingInlineSnapshot(`[InvalidTensorError: invalid tensor: float32 tensor of shape [2] needs 8 bytes, got 3]`)
    expect(() => decodeTensor({ name: 'x', dtype: 'complex64' as never, shape: [1], data: '' })).toThrow(/unknown dtype/)
    expect(() => decodeTensor({ name: 'x', dtype: 'float32', shape: [-1], data: '' })).toThrow(/non-negative integer/)
    expect(() => tensorFromNumbers('int64', [1], [0.5])).toThrow(/safe integers/)
  })
})

describe('sparse-v1 layout', () => {
  const DENSE_TYPES = ['float32', 'float64', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'] as const
  const width = { float32: 4, float64: 8, float16: 2, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, bool: 1 }
  const sparse = (dtype: (typeof DENSE_TYPES)[number], n: number, at: readonly number[]) => {
    const bytes = new Uint8Array(n * width[dtype])
    for (const i of at) bytes.fill(i % 251 + 1, i * width[dtype], (i + 1) * width[dtype])
    return { bytes, t: tensorFromBytes(dtype, [1, n], bytes) }
  }

  test('auto writes sparse-v1 for a mostly-zero tensor; it decodes to the same canonical bytes and hash', () => {
    for (const dtype of DENSE_TYPES) {
      const { bytes, t } = sparse(dtype, 4096, [0, 7, 300, 4095])
      const e = encodeTensor('counts', t, 'auto')
      expect(e.layout).toBe('sparse-v1')
      expect(Buffer.from(e.data, 'base64').length).toBe(4 + 4 * (4 + width[dtype]))
      expect([...tensorBytes(decodeTensor(e))]).toEqual([...bytes])
      expect(hashEncodedTensors([e])).toBe(hashTensors({ counts: t }))
      expect(hashEncodedTensors([e])).toBe(hashEncodedTensors([encodeTensor('counts', t)]))
    }
  })

  test('auto stays dense when sparse would be more than half the size; the default is always dense', () => {
    const dense = tensorFromNumbers('float32', [8], [1, 2, 3, 0, 0, 0, 0, 0])
    expect(encodeTensor('x', dense, 'auto').layout).toBeUndefined()
    const { t } = sparse('float32', 100, [5])
    expect(encodeTensor('x', t).layout).toBeUndefined()
    expect(encodeTensor('x', t, 'auto').layout).toBe('sparse-v1')
  })

  test('-0.0 and NaN are not zero bytes: they survive the sparse layout bit for bit', () => {
    const data = new Float32Array(64)
    data[3] = -0
    data[9] = Number.NaN
    const t = { dtype: 'float32' as const, shape: [64], data }
    const back = decodeTensor(encodeTensor('x', t, 'auto'))
    expect([...tensorBytes(back)]).toEqual([...tensorBytes(t)])
    expect(Object.is((back.data as Float32Array)[3], -0)).toBe(true)
  })

  test('malformed sparse data is rejected: a forged record cannot decode to other bytes than it hashes to', () => {
    const enc = (k: number, idx: number[], vals: number[]) => {
      const b = Buffer.alloc(4 + idx.length * 4 + vals.length)
      b.writeUInt32LE(k, 0)
      idx.forEach((i, j) => b.writeUInt32LE(i, 4 + 4 * j))
      Buffer.from(vals).copy(b, 4 + 4 * idx.length)
      return { name: 'x', dtype: 'uint8' as const, shape: [4], data: b.toString('base64'), layout: 'sparse-v1' as const }
    }
    expect([...tensorBytes(decodeTensor(enc(2, [1, 3], [9, 8])))]).toEqual([0, 9, 0, 8])
    expect(() => decodeTensor(enc(2, [3, 1], [9, 8]))).toThrow(/strictly increasing/)
    expect(() => decodeTensor(enc(2, [1, 1], [9, 8]))).toThrow(/strictly increasing/)
    expect(() => decodeTensor(enc(1, [4], [9]))).toThrow(/index 4; the shape has 4 elements/)
    expect(() => decodeTensor(enc(5, [], []))).toThrow(/lists 5 elements/)
    expect(() => decodeTensor(enc(2, [1, 3], [9]))).toThrow(/2 uint8 elements need 14/)
    expect(() => decodeTensor({ ...enc(1, [1], [9]), data: 'AAA' })).toThrow(/canonical base64/)
    expect(() => decodeTensor({ ...enc(1, [1], [9]), layout: 'rle' as never })).toThrow(/unknown layout "rle"/)
    expect(() => hashEncodedTensors([enc(2, [3, 1], [9, 8])])).toThrow(/strictly increasing/)
  })
})
