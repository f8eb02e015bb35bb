import { createHash } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { InvalidTensorError } from './errors.js'
import {
  decodeTensor,
  encodeTensor,
  hashEncodedTensors,
  hashTensors,
  tensorBytes,
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
