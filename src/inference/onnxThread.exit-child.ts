// Child of onnxThread.test.ts: one classification on an ONNX thread, then nothing. The process
// must exit on its own although the thread (idle, not closed) is still there.
import { startOnnxThread } from './onnxThread.js'

const thread = await startOnnxThread({ runner: 'moderation', model: 'moderation' })
const { output } = await thread.infer('BUY CHEAP FOLLOWERS NOW!!! click the link')
process.stdout.write(`${(output as { label: string }).label}\n`)
