import { expect, test } from 'vitest'
import * as agent from './index.js'

test('public exports', () => {
  expect(Object.keys(agent).sort()).toMatchInlineSnapshot(`
    [
      "ActionInterruptedError",
      "AgentConfigError",
      "AgentDefinitionError",
      "AgentMaxRoundsError",
      "DEFAULT_INFERENCE_URL",
      "InferenceNotRecordedError",
      "InvalidAgentNameError",
      "MAX_MANIFEST_BYTES",
      "ManifestError",
      "ToolArgumentsError",
      "ToolNotFoundError",
      "ToolResultError",
      "agentNameSchema",
      "assertAgentName",
      "bondManifestSchema",
      "buildManifest",
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
