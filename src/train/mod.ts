/**
 * Public API of src/train (re-exported by the top-level mod.ts): the training loop with exact
 * resume, evaluation, the learning-rate schedule and range test, hardware-adaptive defaults,
 * and the loss plot.
 *
 * @example
 * ```ts
 * import { learningRate } from "./mod.ts";
 * console.log(learningRate(0, { lr: 1e-3, minLr: 1e-4, warmup: 10, decaySteps: 100 })); // 0.0001
 * ```
 *
 * @module
 */
export { learningRate, type LrSchedule } from "./schedule.ts";
export { type CurvePoint, lossSvg } from "./loss_svg.ts";
export {
  DEFAULT_VAL_FRACTION,
  loadTrainingData,
  type TextTokenizer,
  type TrainingData,
} from "./data.ts";
export {
  describeRunCheckpoints,
  formatRunCheckpoints,
  type RunCheckpointsReport,
} from "./checkpoints.ts";
export { EVAL_DEFAULTS, type EvalResult, evaluate, evaluateBatches } from "./evaluate.ts";
export {
  activationFloatsPerToken,
  chooseBatchShape,
  type MemoryLimits,
  memoryLimits,
  trainingBytes,
} from "./defaults.ts";
export {
  DEFAULT_PRESET,
  type DefaultInputs,
  defaultTrainOptions,
  resolveTrainOptions,
  TRAIN_OPTION_TABLE,
  trainDefault,
  type TrainOptions,
  type TrainOptionSpec,
  validateTrainOptions,
} from "./options.ts";
export {
  type BatchSource,
  nonFiniteReason,
  type OptimizerOptions,
  type StepStats,
  type TrainableParameters,
  TrainStep,
  type TrainStepOptions,
} from "./step.ts";
export { MetricsLog, type StepMetrics } from "./metrics.ts";
export {
  type BatchSampler,
  checkDataFits,
  createRunDir,
  readRunSpec,
  type RunModel,
  type RunSpec,
  runTraining,
  type StepActions,
  stepActions,
  STOP_SIGNALS,
  type StopSignal,
  StopSignals,
  tokenStreamSource,
  type TrainContext,
  type TrainSource,
  type TrainSummary,
  wholeModel,
} from "./trainer.ts";
export {
  LR_FIND_DEFAULTS,
  type LrFindOptions,
  type LrFindPoint,
  type LrFindResult,
  lrRangeTest,
  renderLrCurve,
} from "./lr_find.ts";
export {
  BENCH_GPT,
  benchTrainSteps,
  createStepRunner,
  type StepRunner,
  type TrainBenchResult,
} from "./bench.ts";
export {
  type DeviceOrBackend,
  evaluateCheckpoint,
  findLearningRate,
  resumeTraining,
  startTraining,
  type StartTrainingOptions,
  type WorkflowOptions,
} from "./run.ts";
