import { expect, test } from 'vitest'
import * as agent from './index.js'

test('public exports', () => {
  expect(Object.keys(agent).sort()).toMatchInlineSnapshot(`
    [
      "ActionInterruptedError",
      "AgentBundleError",
      "AgentConfigError",
      "AgentDefinitionError",
      "AgentMaxRoundsError",
      "CODE_BUNDLE_FORMAT",
      "DEFAULT_INFERENCE_URL",
      "InferenceNotRecordedError",
      "InvalidAgentNameError",
      "MAX_BUNDLE_BYTES",
      "MAX_MANIFEST_BYTES",
      "ManifestError",
      "ToolArgumentsError",
      "ToolNotFoundError",
      "ToolResultError",
      "agentNameSchema",
      "assertAgentName",
      "assertBundleHash",
      "bondManifestSchema",
      "buildManifest",
      "bundleAgentFile",
      "codeBundleManifestSchema",
      "createAgentRuntime",
      "defineAgent",
      "defineTool",
      "manifestSchema",
      "parseManifest",
      "replayPolicySchema",
      "wrapLangChainTool",
    ]
  `)
})
