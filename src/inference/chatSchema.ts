/**
 * JSON Schemas as covenant-chat can fill them: a flat object of string, number, integer,
 * boolean and enum fields. The model writes arguments with a fixed set of pieces (`":"`,
 * `","`, `}}</tool_call>`, …) plus tokens copied from the prompt; it has no piece that opens a
 * nested object or an array, and none for `null`. So the constrained decoder (chatGrammar.ts)
 * can guarantee exactly what this compiler keeps, and a schema that asks for more is refused
 * (response_format, strict tools) rather than half-honoured.
 */
export type FlatProperty = {
  name: string
  /** JSON strings allowed. */
  string: boolean
  /** JSON numbers allowed: any number, integers only, or none. */
  number: 'number' | 'integer' | 'none'
  boolean: boolean
  /** Allowed values (strings, numbers, booleans), when the schema has `enum` or `const`. */
  enum?: ReadonlyArray<string | number | boolean> | undefined
  minimum?: number | undefined
  maximum?: number | undefined
  exclusiveMinimum?: number | undefined
  exclusiveMaximum?: number | undefined
  minLength?: number | undefined
  maxLength?: number | undefined
}

export type FlatObjectSpec = {
  /** In schema order. A property the model cannot write (object, array, null) is left out; see `unwritable`. */
  properties: FlatProperty[]
  required: string[]
  /** Properties of a type covenant-chat cannot write. A required one makes the object unwritable. */
  unwritable: string[]
}

export type SchemaIssue = { path: string; message: string }

const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', '$comment', 'deprecated', 'readOnly', 'writeOnly'])
const ROOT_KEYWORDS = new Set([...ANNOTATIONS, 'type', 'properties', 'required', 'additionalProperties', '$schema', '$id'])
const PROPERTY_KEYWORDS = new Set([
  ...ANNOTATIONS,
  'type',
  'enum',
  'const',
  'anyOf',
  'nullable',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
])
const SUPPORTED = 'type (string, number, integer, boolean), enum, const, minimum/maximum, minLength/maxLength'

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

/**
 * Compiles an object schema. `issues` lists every keyword or type the decoder cannot
 * enforce; callers that promise the schema (response_format, `strict` tools) refuse the
 * request when there are any, others (plain tools, which OpenAI also fills best-effort)
 * use `spec` as far as it goes.
 */
export function compileFlatSchema(schema: unknown): { spec: FlatObjectSpec; issues: SchemaIssue[] } {
  const issues: SchemaIssue[] = []
  const spec: FlatObjectSpec = { properties: [], required: [], unwritable: [] }
  if (schema === undefined) return { spec, issues }
  if (!isObject(schema)) return { spec, issues: [{ path: '', message: 'the schema must be a JSON object' }] }
  for (const k of Object.keys(schema)) {
    if (!ROOT_KEYWORDS.has(k)) issues.push({ path: k, message: `'${k}' is not supported at the top level (covenant-chat writes one flat object)` })
  }
  if (schema['type'] !== undefined && schema['type'] !== 'object') issues.push({ path: 'type', message: 'the top level must be {"type": "object"}' })
  const ap = schema['additionalProperties']
  if (ap !== undefined && typeof ap !== 'boolean') issues.push({ path: 'additionalProperties', message: 'additionalProperties must be true or false' })
  const props = schema['properties'] ?? {}
  if (!isObject(props)) return { spec, issues: [...issues, { path: 'properties', message: 'properties must be an object' }] }
  for (const [name, sub] of Object.entries(props)) {
    const compiled = compileProperty(name, sub, `properties.${name}`, issues)
    if (compiled) spec.properties.push(compiled)
    else spec.unwritable.push(name)
  }
  const required = schema['required'] ?? []
  if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) {
    issues.push({ path: 'required', message: 'required must be an array of property names' })
  } else {
    for (const r of required as string[]) {
      if (!Object.hasOwn(props, r)) issues.push({ path: 'required', message: `required names "${r}", which is not in properties` })
      else if (!spec.required.includes(r)) spec.required.push(r)
    }
  }
  return { spec, issues }
}

function compileProperty(name: string, sub: unknown, path: string, issues: SchemaIssue[]): FlatProperty | undefined {
  if (sub === true || (isObject(sub) && Object.keys(sub).every((k) => ANNOTATIONS.has(k)))) {
    return { name, string: true, number: 'number', boolean: true } // any value
  }
  if (!isObject(sub)) {
    issues.push({ path, message: 'a property schema must be an object' })
    return undefined
  }
  for (const k of Object.keys(sub)) {
    if (!PROPERTY_KEYWORDS.has(k)) issues.push({ path: `${path}.${k}`, message: `'${k}' is not supported; covenant-chat can enforce ${SUPPORTED}` })
  }
  // `anyOf: [X, {type: "null"}]` (how zod and pydantic write nullable fields) is X: the model never writes null.
  let s: Record<string, unknown> = sub
  if (sub['anyOf'] !== undefined) {
    const branches = Array.isArray(sub['anyOf']) ? sub['anyOf'].filter((b) => !(isObject(b) && b['type'] === 'null')) : []
    if (branches.length !== 1 || !isObject(branches[0])) {
      issues.push({ path: `${path}.anyOf`, message: 'anyOf is supported only as [schema, {"type": "null"}]' })
      return undefined
    }
    const { anyOf: _a, ...rest } = sub
    s = { ...rest, ...branches[0] }
    for (const k of Object.keys(branches[0])) {
      if (!PROPERTY_KEYWORDS.has(k)) issues.push({ path: `${path}.anyOf.${k}`, message: `'${k}' is not supported; covenant-chat can enforce ${SUPPORTED}` })
    }
  }
  const rawTypes = s['type'] === undefined ? undefined : Array.isArray(s['type']) ? s['type'] : [s['type']]
  const types = new Set((rawTypes ?? ['string', 'number', 'boolean']).filter((t) => t !== 'null'))
  for (const t of types) {
    if (!['string', 'number', 'integer', 'boolean'].includes(t as string)) {
      issues.push({ path: `${path}.type`, message: `type ${JSON.stringify(t)} cannot be written by covenant-chat (no nested objects, arrays or null)` })
      return undefined
    }
  }
  if (types.size === 0) {
    issues.push({ path: `${path}.type`, message: 'a property that can only be null cannot be written by covenant-chat' })
    return undefined
  }
  const p: FlatProperty = {
    name,
    string: types.has('string'),
    number: types.has('number') ? 'number' : types.has('integer') ? 'integer' : 'none',
    boolean: types.has('boolean'),
  }
  const values = s['const'] !== undefined ? [s['const']] : s['enum']
  if (values !== undefined) {
    if (!Array.isArray(values)) {
      issues.push({ path: `${path}.enum`, message: 'enum must be an array' })
      return undefined
    }
    const allowed = values.filter(
      (v): v is string | number | boolean =>
        (typeof v === 'string' && p.string) || (typeof v === 'number' && (p.number === 'number' || (p.number === 'integer' && Number.isInteger(v)))) || (typeof v === 'boolean' && p.boolean),
    )
    if (values.some((v) => v !== null && typeof v === 'object')) issues.push({ path: `${path}.enum`, message: 'enum values must be strings, numbers or booleans' })
    if (allowed.length === 0) {
      issues.push({ path: `${path}.enum`, message: 'no enum value fits the property type' })
      return undefined
    }
    p.enum = allowed
  }
  for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength'] as const) {
    const v = s[k]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v)) issues.push({ path: `${path}.${k}`, message: `${k} must be a number` })
    else p[k] = v
  }
  return p
}

/** Problems of `value` against `spec` ([] when it conforms): what the decoder guarantees, checked after the fact. */
export function validateFlat(value: unknown, spec: FlatObjectSpec): string[] {
  if (!isObject(value)) return ['not a JSON object']
  const problems: string[] = []
  const byName = new Map(spec.properties.map((p) => [p.name, p]))
  for (const r of spec.required) if (!Object.hasOwn(value, r)) problems.push(`missing required property "${r}"`)
  for (const [k, v] of Object.entries(value)) {
    const p = byName.get(k)
    if (!p) {
      problems.push(`unexpected property "${k}"`)
      continue
    }
    if (!valueFits(p, v)) problems.push(`property "${k}": ${JSON.stringify(v)} does not fit the schema`)
  }
  return problems
}

/** Whether a JSON value is allowed for a property (type, enum, bounds, lengths). */
export function valueFits(p: FlatProperty, v: unknown): boolean {
  if (p.enum && !p.enum.some((e) => e === v)) return false
  if (typeof v === 'string') {
    const n = Array.from(v).length
    return p.string && (p.minLength === undefined || n >= p.minLength) && (p.maxLength === undefined || n <= p.maxLength)
  }
  if (typeof v === 'number') {
    if (p.number === 'none' || !Number.isFinite(v) || (p.number === 'integer' && !Number.isInteger(v))) return false
    if (p.minimum !== undefined && v < p.minimum) return false
    if (p.maximum !== undefined && v > p.maximum) return false
    if (p.exclusiveMinimum !== undefined && v <= p.exclusiveMinimum) return false
    if (p.exclusiveMaximum !== undefined && v >= p.exclusiveMaximum) return false
    return true
  }
  if (typeof v === 'boolean') return p.boolean
  return false
}
