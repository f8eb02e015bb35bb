// The command line of a bench script: `--name value` options and bare switches (`--json`).

const argv = process.argv.slice(2)

/** Whether the bare switch `name` (e.g. `--json`) is on the command line. */
export function flag(name: string): boolean {
  return argv.includes(name)
}

/** The value after `name` on the command line, if given. */
export function opt(name: string): string | undefined {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}

/** The positive integer after `name`, or `fallback` when it is absent or not one. */
export function intOpt(name: string, fallback: number): number {
  const v = Number(opt(name) ?? Number.NaN)
  return Number.isInteger(v) && v > 0 ? v : fallback
}
