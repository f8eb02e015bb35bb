import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { keccak256, type Hex } from 'viem'
import { z } from 'zod'
import type { DAClient } from '../da/index.js'
import { canonicalBytes } from '../trace/index.js'
import { ManifestMismatchError, ManifestUnavailableError } from './errors.js'
import { manifestCodeSchema, manifestReplaySchema, type ManifestCode, type ManifestReplay, type ReplayRule } from './schemas.js'

/**
 * Where a verifier finds an agent's manifest. Whatever the source, the bytes must hash to
 * the manifestHash the agent registered (keccak256 of the bytes, or of their canonical
 * JSON), so a source needs no trust.
 */
export interface ManifestSource {
  readonly name: string
  /** The manifest bytes, or undefined when this source has none for the agent. */
  get(p: { agentId: bigint; manifestHash: Hex }): Promise<Uint8Array | undefined>
}

/**
 * A manifest file, or a directory holding `<manifestHash>.json`, `agent-<id>.json` or
 * `<id>.json` files.
 */
export function fileManifestSource(path: string): ManifestSource {
  return {
    name: `file ${path}`,
    async get({ agentId, manifestHash }) {
      const s = await stat(path).catch(() => undefined)
      if (!s) return undefined
      const candidates = s.isDirectory()
        ? [`${manifestHash}.json`, `${manifestHash.slice(2)}.json`, `agent-${agentId}.json`, `${agentId}.json`].map((f) => join(path, f))
        : [path]
      for (const file of candidates) {
        const bytes = await readFile(file).catch(() => undefined)
        if (bytes) return new Uint8Array(bytes)
      }
      return undefined
    },
  }
}

/**
 * An HTTP(S) URL. `{hash}` and `{agentId}` in it are replaced; without placeholders the
 * manifest hash is appended as a path segment. 404 means "none here".
 */
export function urlManifestSource(url: string, options: { timeoutMs?: number | undefined } = {}): ManifestSource {
  return {
    name: `url ${url}`,
    async get({ agentId, manifestHash }) {
      const target = /\{(hash|agentId)\}/.test(url)
        ? url.replaceAll('{hash}', manifestHash).replaceAll('{agentId}', agentId.toString())
        : `${url.replace(/\/+$/, '')}/${manifestHash}`
      let res: Response
      try {
        res = await fetch(target, { signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) })
      } catch (cause) {
        throw new ManifestUnavailableError(`Cannot fetch the manifest from ${target}.`, { cause })
      }
      if (res.status === 404) return undefined
      if (!res.ok) throw new ManifestUnavailableError(`${target} answered ${res.status} for the manifest.`)
      return new Uint8Array(await res.arrayBuffer())
    },
  }
}

/** Manifests stored on DA: the commitment for each agent (or manifest hash) is given. */
export function daManifestSource(
  da: Pick<DAClient, 'get'>,
  commitments: Record<string, Hex> | ((p: { agentId: bigint; manifestHash: Hex }) => Hex | undefined),
): ManifestSource {
  return {
    name: 'DA',
    async get(p) {
      const c =
        typeof commitments === 'function'
          ? commitments(p)
          : (commitments[p.manifestHash] ?? commitments[p.manifestHash.toLowerCase()] ?? commitments[p.agentId.toString()])
      if (!c) return undefined
      try {
        return await da.get(c)
      } catch (cause) {
        if ((cause as { name?: string }).name === 'BlobNotFoundError') return undefined
        throw new ManifestUnavailableError('Cannot fetch the manifest from DA.', { cause })
      }
    },
  }
}

export type LoadedManifest = {
  manifest: unknown
  replay: ManifestReplay
  /** The agent's registered code bundle; null when the manifest registers none (its logic cannot be replayed). */
  code: ManifestCode | null
  source: string
}

/**
 * Finds the agent's manifest in the first source that has it and checks it against the
 * registered hash. Undefined when no source has it (the verifier is then strict: exact
 * replay for every model). A manifest that does not match the hash is an error.
 */
export async function loadManifest(
  sources: readonly ManifestSource[],
  p: { agentId: bigint; manifestHash: Hex },
): Promise<LoadedManifest | undefined> {
  for (const source of sources) {
    const bytes = await source.get(p)
    if (!bytes) continue
    const raw = keccak256(bytes)
    let manifest: unknown
    try {
      manifest = JSON.parse(new TextDecoder().decode(bytes))
    } catch {
      manifest = undefined
    }
    let canonical: Hex | undefined
    if (manifest !== undefined) {
      try {
        canonical = keccak256(canonicalBytes(manifest))
      } catch {
        canonical = undefined
      }
    }
    const want = p.manifestHash.toLowerCase()
    if (raw !== want && canonical !== want) {
      throw new ManifestMismatchError({ agentId: p.agentId, expected: p.manifestHash, actual: `${raw}${canonical ? ` / ${canonical}` : ''}`, source: source.name })
    }
    const parsed = manifestReplaySchema.safeParse(manifest ?? {})
    if (!parsed.success) {
      throw new ManifestUnavailableError(`The manifest from ${source.name} has an invalid replay section.`, {
        details: z.prettifyError(parsed.error),
      })
    }
    const code = manifestCodeSchema.safeParse(manifest ?? {})
    if (!code.success) {
      throw new ManifestUnavailableError(`The manifest from ${source.name} has an invalid codeHash / codeBundle.`, { details: z.prettifyError(code.error) })
    }
    const { codeHash, codeBundle } = code.data
    if (!codeHash !== !codeBundle) {
      throw new ManifestUnavailableError(`The manifest from ${source.name} sets only one of codeHash and codeBundle: it says nothing usable about the agent's code.`)
    }
    return {
      manifest,
      replay: parsed.data,
      code: codeHash && codeBundle ? { codeHash: codeHash.toLowerCase() as Hex, commitment: codeBundle.commitment.toLowerCase() as Hex, format: codeBundle.format } : null,
      source: source.name,
    }
  }
  return undefined
}

/**
 * The agent's manifest for a registered manifest hash, from the first source that has it,
 * cached per hash. Undefined when no source has it or it is unusable (a warning says why);
 * a miss is not cached, so a manifest that appears later is found on the next check.
 */
export function cachedManifest(
  ctx: { manifests: readonly ManifestSource[]; manifestCache?: Map<string, Promise<LoadedManifest | undefined>> | undefined; onWarning?: ((message: string) => void) | undefined },
  agentId: bigint,
  manifestHash: Hex,
): Promise<LoadedManifest | undefined> {
  if (ctx.manifests.length === 0 || /^0x0{64}$/.test(manifestHash)) return Promise.resolve(undefined)
  const cache = (ctx.manifestCache ??= new Map())
  let p = cache.get(manifestHash)
  if (!p) {
    p = loadManifest(ctx.manifests, { agentId, manifestHash }).then(
      (loaded) => {
        if (!loaded) cache.delete(manifestHash)
        return loaded
      },
      (err: unknown) => {
        ctx.onWarning?.(`agent ${agentId}: manifest not usable, its inferences are not judged until it is: ${(err as { shortMessage?: string }).shortMessage ?? String(err)}`)
        cache.delete(manifestHash)
        return undefined
      },
    )
    cache.set(manifestHash, p)
  }
  return p
}

/**
 * Whether the verifier should hold the agent's manifest to judge its inferences: the agent
 * registered one (not the zero hash) and the verifier was given somewhere to look. When it
 * should and cannot find it, the replay mode the agent registered is unknown (`replayRuleFor`
 * is not asked; see `precheckInference` with `null`). An agent that registered no manifest,
 * or a verifier run with no manifest sources, is judged by the default: exact.
 */
export function manifestExpected(ctx: { manifests: readonly ManifestSource[] }, manifestHash: Hex): boolean {
  return ctx.manifests.length > 0 && !/^0x0{64}$/.test(manifestHash)
}

/** How inferences of `modelDigest` must be checked under a manifest (exact without one). */
export function replayRuleFor(replay: ManifestReplay | undefined, modelDigest: Hex): ReplayRule {
  if (!replay) return { mode: 'exact' }
  const normalize = (r: ManifestReplay['replay'], tol: ManifestReplay['tolerance'] | null): ReplayRule | undefined => {
    if (r === undefined) return undefined
    if (typeof r === 'string') return tol ? { mode: r, tolerance: tol } : { mode: r }
    return r.tolerance || !tol ? r : { ...r, tolerance: tol }
  }
  const entry = replay.models?.find((m) => m.digest.toLowerCase() === modelDigest.toLowerCase())
  const rule = (entry && normalize(entry.replay, entry.tolerance ?? replay.tolerance)) ?? normalize(replay.replay, replay.tolerance) ?? { mode: 'exact' }
  // the registered receipt keys and measurement go with the model's rule
  if (!entry || (entry.receiptSigners === undefined && entry.measurement === undefined)) return rule
  return {
    ...rule,
    ...(entry.receiptSigners && entry.receiptSigners.length > 0 ? { signers: entry.receiptSigners } : {}),
    ...(entry.measurement ? { measurement: entry.measurement } : {}),
  }
}
