import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { compile, outDir } from '../../scripts/build-contracts.js'
import { agentAccountAbi } from '../../src/bonds/generated/abis.js'
import { agentAccountCallAbi } from '../../src/wallet/accountCall.js'

describe('generated contract bindings', () => {
  it('match what contracts/src compiles to (run `npm run build:contracts` when this fails)', () => {
    const { abis, bytecode } = compile()
    expect(readFileSync(join(outDir, 'abis.ts'), 'utf8')).toBe(abis)
    expect(readFileSync(join(outDir, 'bytecode.ts'), 'utf8')).toBe(bytecode)
  })
})

describe("the wallet's hand-written AgentAccount fragment", () => {
  it("is the compiled contract's, entry for entry", () => {
    type Entry = { type: string; name?: string; inputs?: readonly { type: string }[]; outputs?: readonly { type: string }[] }
    const sig = (e: Entry) => `${e.type} ${e.name}(${(e.inputs ?? []).map((i) => i.type).join(',')})(${(e.outputs ?? []).map((o) => o.type).join(',')})`
    const compiled = new Set((agentAccountAbi as readonly Entry[]).map(sig))
    for (const entry of agentAccountCallAbi as readonly Entry[]) expect(compiled.has(sig(entry)), sig(entry)).toBe(true)
  })
})
