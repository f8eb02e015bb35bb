import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { compile, outDir } from '../../scripts/build-contracts.js'

describe('generated contract bindings', () => {
  it('match what contracts/src compiles to (run `npm run build:contracts` when this fails)', () => {
    const { abis, bytecode } = compile()
    expect(readFileSync(join(outDir, 'abis.ts'), 'utf8')).toBe(abis)
    expect(readFileSync(join(outDir, 'bytecode.ts'), 'utf8')).toBe(bytecode)
  })
})
