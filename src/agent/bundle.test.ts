import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keccak256 } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { assertBundleHash, bundleAgentFile, covenantSpecifier } from './bundle.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-bundle-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const text = (b: { bytes: Uint8Array }) => new TextDecoder().decode(b.bytes)

describe('bundleAgentFile', () => {
  test("holds the user's code only: covenant's sources and npm packages stay imports; codeHash = keccak256(bytes)", async () => {
    const b = await bundleAgentFile('examples/agents/treasury/agent.ts')
    expect(b.codeHash).toBe(keccak256(b.bytes))
    expect(b.format).toBe('esm-bundle/v1')
    const code = text(b)
    // the example imports covenant by relative path: the bundle names its entry points
    expect(code).toContain('from "covenant/agent"')
    expect(code).toContain('from "covenant/wallet"')
    expect(code).toContain('from "viem"')
    expect(code).toContain('from "zod"')
    expect(code).toContain('name: "pay_invoice"')
    // no copy of the framework, nothing of this machine's layout
    expect(code).not.toContain('function defineAgent')
    expect(code).not.toContain(process.cwd())
    expect(b.bytes.length).toBeLessThan(4_000)
  })

  test('the same file gives the same bytes; another file gives another hash', async () => {
    const a = await bundleAgentFile('examples/agents/moderation/agent.ts')
    expect((await bundleAgentFile('examples/agents/moderation/agent.ts')).codeHash).toBe(a.codeHash)
    expect((await bundleAgentFile('examples/agents/market-resolver/agent.ts')).codeHash).not.toBe(a.codeHash)
  })

  test("the user's own modules are bundled in; covenant files off its entry points get a covenant/src path", async () => {
    await writeFile(join(dir, 'helper.ts'), 'export const greeting = (n: string) => `hello ${n}`\n')
    const root = process.cwd()
    await writeFile(
      join(dir, 'agent.ts'),
      `import { greeting } from './helper.js'\nimport { canonicalize } from '${root}/src/trace/canonical.js'\nexport default { name: greeting('x'), canonical: canonicalize({ b: 1, a: 2 }) }\n`,
    )
    const code = text(await bundleAgentFile(join(dir, 'agent.ts')))
    expect(code).toContain('hello ${n}')
    expect(code).toContain('from "covenant/src/trace/canonical.js"')
    expect(covenantSpecifier(join(root, 'src/agent/index.ts'))).toBe('covenant/agent')
    expect(covenantSpecifier(join(root, 'src/index.ts'))).toBe('covenant')
    expect(covenantSpecifier(join(root, 'examples/agents/treasury/agent.ts'))).toBeUndefined()
  })

  test('refuses a missing file and code esbuild cannot read, saying where', async () => {
    await expect(bundleAgentFile(join(dir, 'missing.ts'))).rejects.toThrow(/^Agent code bundle: there is no agent file at .*missing\.ts\./)
    await writeFile(join(dir, 'broken.ts'), 'export default {\n')
    const err = (await bundleAgentFile(join(dir, 'broken.ts')).catch((e: unknown) => e)) as Error
    expect(err.name).toBe('AgentBundleError')
    expect(err.message).toMatch(/^Agent code bundle: esbuild could not bundle .*broken\.ts\.\n\n.*broken\.ts:2: /)
  })
})

describe('assertBundleHash', () => {
  test('accepts the registered bytes and rejects any other bytes with a clear error', async () => {
    const b = await bundleAgentFile('examples/agents/treasury/agent.ts')
    expect(() => assertBundleHash(b.bytes, b.codeHash)).not.toThrow()
    expect(() => assertBundleHash(b.bytes, b.codeHash.toUpperCase().replace('0X', '0x') as `0x${string}`)).not.toThrow()
    const other = new TextEncoder().encode(`${text(b)}// changed\n`)
    expect(() => assertBundleHash(other, b.codeHash)).toThrow(
      `Agent code bundle: the bundle bytes hash to ${keccak256(other)}, but the manifest registers codeHash ${b.codeHash}.`,
    )
  })
})
