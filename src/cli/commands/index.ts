import type { Command } from 'commander'

/** Each command module adds itself to the program. Keep this list alphabetical. */
export const commands: Array<(program: Command) => void> = []
