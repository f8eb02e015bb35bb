import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { launchBrowser } from '../fixtures/browser.js'

// `npm test` must pass on a machine that has only what `npm install` brings. These checks
// fail when code that tests (or the CLI they run) reach starts depending on a program the
// project does not install: an absolute path to a system binary, or a child process started
// by a bare command name that only a hand install puts on PATH.

const ROOTS = ['src', 'test', 'bench', 'scripts', 'examples', 'bin']
/** Files allowed to name a system binary, each with the reason. */
const ALLOWED: Record<string, string> = {
  'test/hygiene/system-binaries.test.ts': 'this file (its patterns)',
}

function sources(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...sources(p))
    else if (/\.(ts|mts|js|mjs|cjs)$/.test(e.name)) out.push(p)
  }
  return out
}

const files = ROOTS.flatMap((r) => sources(r)).map((p) => ({ path: relative('.', p), text: readFileSync(p, 'utf8') }))

/** `/usr/bin/x`, `/usr/local/bin/x`, `/bin/x`, `/opt/…`, `/snap/…` inside a string literal. */
const SYSTEM_PATH = /['"`](\/usr\/(local\/)?s?bin\/[\w.-]+|\/s?bin\/[\w.-]+|\/opt\/[\w./-]+|\/snap\/[\w./-]+)/g
/** spawn('cmd', …), execFile("cmd", …), … with a literal command. */
const LITERAL_SPAWN = /\b(spawn|spawnSync|execFile|execFileSync|exec|execSync|fork)\(\s*(['"`])([^'"`]+)\2/g

describe('fresh-machine hygiene', () => {
  it('scans the project (sanity: the scan sees the files)', () => {
    expect(files.length).toBeGreaterThan(100)
    expect(files.some((f) => f.path === 'test/fixtures/browser.ts')).toBe(true)
  })

  it('no code names a system binary by absolute path', () => {
    const found = files.flatMap(({ path, text }) =>
      ALLOWED[path] ? [] : [...text.matchAll(SYSTEM_PATH)].map((m) => `${path}: ${m[1]}`),
    )
    expect(found).toEqual([])
  })

  it('no child process is started by a bare command name', () => {
    const found = files.flatMap(({ path, text }) =>
      ALLOWED[path] ? [] : [...text.matchAll(LITERAL_SPAWN)].map((m) => `${path}: ${m[1]}(${JSON.stringify(m[3])})`),
    )
    expect(found).toEqual([])
  })

  it('the npm Chromium launches and clicks on this machine (the path a fresh machine takes)', async () => {
    const { browser, source } = await launchBrowser()
    try {
      expect(source).toBe('npm')
      const page = await browser.newPage()
      await page.setContent('<button onclick="this.textContent = \'clicked\'">click me</button>')
      await page.click('button')
      expect(await page.textContent('button')).toBe('clicked')
    } finally {
      await browser.close()
    }
  }, 60_000)
})

