/**
 * Public API of src/explain (re-exported by the top-level mod.ts): the educational mode —
 * each generated token explained (probability, candidates, sampling step, attention), one
 * generation step walked through with the model's shapes, the chunker made visible, and the
 * `bentevi learn` lessons. The per-token data comes from `generate` (`explainTop`,
 * `explainAttention`) and from the models (`lastAttention`).
 *
 * @example
 * ```ts
 * import { chunkDemo, formatChunkDemo } from "./mod.ts";
 * console.log(formatChunkDemo(chunkDemo("Um. Dois. Três.", { maxTokens: 6 })));
 * ```
 *
 * @module
 */
export {
  explainStep,
  formatSampling,
  formatStepWalkthrough,
  formatTokenStep,
  type StepWalkthrough,
} from "./step.ts";
export {
  type ChunkDemo,
  chunkDemo,
  compareStrategies,
  DEMO_MAX_TOKENS,
  formatChunkDemo,
  formatChunkStats,
  formatOptimization,
  type StrategyScore,
} from "./chunks.ts";
export {
  type LessonName,
  type LessonOptions,
  type LessonResult,
  LESSONS,
  runLesson,
} from "./lessons.ts";
