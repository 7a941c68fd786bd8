/**
 * Compiles a large Cedar policy set on a worker thread, so the daemon doing it (the server at
 * `policy set`, an agent when a new set arrives) keeps answering meanwhile: parsing and
 * validating 10,000 policies takes seconds and would otherwise block the event loop. The worker
 * is this same module, started with its own Cedar engine; it returns the parsed, validated set
 * as plain data (`PolicyAnalysis`: policy texts by id, approval ids, per-action slices), from
 * which the calling thread builds its `CompiledPolicySet` without parsing again. One worker per
 * compile, ended when it answers (a compile is rare: once per policy version).
 *
 * Trust: the text is the operator's (validated here exactly as `CompiledPolicySet.compile`
 * does); the worker shares nothing with the caller but the messages.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { CompiledPolicySet, type PolicyAnalysis, PolicyError, type PolicyProblem } from './policy-engine.js'

/** Marks this module's own workers (so importing it in another worker runs nothing). */
const KIND = 'sigil-policy-compile'

/** What the worker answers. */
type Answer =
  | { readonly ok: true; readonly analysis: PolicyAnalysis }
  | {
      readonly ok: false
      readonly message: string
      readonly problems?: PolicyProblem[]
    }

/**
 * `CompiledPolicySet.analyze(text)` on a worker thread; rejects `PolicyError` as `analyze`
 * throws it, or an `Error` when the worker fails.
 *
 * @example
 * const a = await analyzeOffThread(text)
 */
export function analyzeOffThread(text: string): Promise<PolicyAnalysis> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { kind: KIND, text } })
    let answered = false
    worker.once('message', (a: Answer) => {
      answered = true
      void worker.terminate()
      if (a.ok) resolve(a.analysis)
      else if (a.problems !== undefined) reject(new PolicyError(a.message, a.problems))
      else reject(new Error(`policy compile failed: ${a.message}`))
    })
    worker.once('error', (e) => {
      if (answered) return
      answered = true
      reject(new Error(`policy compile worker failed: ${e.message}`))
    })
    worker.once('exit', (code) => {
      if (answered) return
      answered = true
      reject(new Error(`policy compile worker exited with code ${code} before answering`))
    })
  })
}

if (!isMainThread && (workerData as { kind?: unknown } | null)?.kind === KIND) {
  const { text } = workerData as { text: string }
  let answer: Answer
  try {
    answer = { ok: true, analysis: CompiledPolicySet.analyze(text) }
  } catch (e) {
    answer =
      e instanceof PolicyError
        ? { ok: false, message: e.message, problems: e.problems }
        : { ok: false, message: e instanceof Error ? e.message : String(e) }
  }
  parentPort?.postMessage(answer)
}
