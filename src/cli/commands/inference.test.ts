import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'
import { createModerationClassifier } from '../../inference/moderation.js'

const bin = fileURLToPath(new URL('../../../bin/covenant.js', import.meta.url))
const run = promisify(execFile)
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) c.kill('SIGTERM')
})

/** Reads stdout until one JSON document has arrived. */
function firstJson(child: ChildProcess): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      try {
        resolve(JSON.parse(out) as Record<string, unknown>)
      } catch {
        // not complete yet
      }
    })
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing JSON: ${out}`)))
  })
}

describe('covenant inference', () => {
  test('serve --port 0 --json starts the container, announces it, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, '--json', 'inference', 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    const info = await firstJson(child)
    expect(info).toMatchObject({ baseURL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v1$/), keySource: 'ephemeral', attestation: { simulated: true } })
    const models = (await (await fetch(`${String(info['baseURL'])}/models`)).json()) as { data: Array<{ id: string }> }
    expect(models.data.map((m) => m.id)).toEqual(['covenant-chat', 'moderation', 'tiny-qwen2'])
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })

  test('serve --model <dir> serves a causal-LM directory as a chat model; a directory that is not one is refused', async () => {
    const lm = fileURLToPath(new URL('../../../models/tiny-qwen2', import.meta.url))
    const empty = mkdtempSync(join(tmpdir(), 'covenant-models-'))
    const child = spawn(process.execPath, [bin, '--json', 'inference', 'serve', '--port', '0', '--models', empty, '--model', lm], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    const info = await firstJson(child)
    expect(info['models']).toEqual([{ name: 'tiny-qwen2', kind: 'chat', digest: expect.stringMatching(/^0x[0-9a-f]{64}$/) }])
    const res = await fetch(`${String(info['baseURL'])}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-qwen2', messages: [{ role: 'user', content: 'Hello!' }] }),
    })
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }>; covenant_receipt: { modelDigest: string } }
    expect(body.choices[0]!.message.content.length).toBeGreaterThan(0)
    expect(body.covenant_receipt.modelDigest).toBe((info['models'] as Array<{ digest: string }>)[0]!.digest)
    child.kill('SIGTERM')
    const refused = await run(process.execPath, [bin, 'inference', 'serve', '--port', '0', '--model', empty]).catch((e: { code: number; stderr: string }) => e)
    expect(refused).toMatchObject({ code: expect.any(Number), stderr: expect.stringMatching(/not a causal-LM directory/) })
    expect((refused as { code: number }).code).not.toBe(0)
  })

  test('replay <record.json> prints the result; exit code 2 on a mismatch', async () => {
    const { record } = await (await createModerationClassifier()).classify('Tell me a joke.')
    const dir = mkdtempSync(join(tmpdir(), 'covenant-replay-'))
    writeFileSync(join(dir, 'ok.json'), JSON.stringify(record))
    const ok = await run(process.execPath, [bin, '--json', 'inference', 'replay', join(dir, 'ok.json')])
    expect(JSON.parse(ok.stdout)).toMatchObject({ match: true, mode: 'exact' })

    const lie = structuredClone(record) as typeof record & { response: { outputs: Array<{ data: string }> } }
    const b = Buffer.from(lie.response.outputs[0]!.data, 'base64')
    b[2]! ^= 0x10
    lie.response.outputs[0]!.data = b.toString('base64')
    writeFileSync(join(dir, 'lie.json'), JSON.stringify(lie))
    const bad = await run(process.execPath, [bin, 'inference', 'replay', join(dir, 'lie.json')]).catch((e: { code: number; stdout: string }) => e)
    expect(bad).toMatchObject({ code: 2, stdout: expect.stringMatching(/^MISMATCH \(exact\)/) })
  })
})
