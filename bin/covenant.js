#!/usr/bin/env node
// The `covenant` command. The sources are TypeScript run through tsx, so a fresh clone
// needs no build step before `npm run demo`.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
