import type { Command } from 'commander'
import { register as da } from './da.js'
import { register as demo } from './demo.js'

/** Each command module adds itself to the program. Keep this list alphabetical. */
export const commands: Array<(program: Command) => void> = [da, demo]
