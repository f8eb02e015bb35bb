import type { Command } from 'commander'
import { register as bond } from './bond.js'
import { register as bonds } from './bonds.js'
import { register as da } from './da.js'
import { register as demo } from './demo.js'
import { register as deploy } from './deploy.js'
import { register as dev } from './dev.js'
import { register as dispute } from './dispute.js'
import { register as erc8004 } from './erc8004.js'
import { register as inference } from './inference.js'
import { register as serve } from './serve.js'
import { register as trace } from './trace.js'
import { register as verifier } from './verifier.js'
import { register as verify } from './verify.js'

/** Each command module adds itself to the program. Keep this list alphabetical. */
export const commands: Array<(program: Command) => void> = [erc8004, bond, bonds, da, demo, deploy, dev, dispute, inference, serve, trace, verifier, verify]
