/**
 * Every file format Bentevi reads, as fuzz targets (one module each). Later formats
 * (SentencePiece, adapters, indexes) join this list.
 *
 * @module
 */
import type { FuzzFormat } from "../harness.ts";
import { tokenizerJson } from "./tokenizer_json.ts";
import { checkpoint } from "./checkpoint.ts";
import { hfCheckpoint } from "./hf_checkpoint.ts";
import { llmcBin } from "./llmc_bin.ts";
import { rwkvCpp } from "./rwkv_cpp.ts";
import { chatSave } from "./chat_save.ts";
import { trainerState } from "./trainer_state.ts";
import { bz2Fallback, bz2Native } from "./bz2.ts";
import { xmlDump } from "./xml_dump.ts";
import { jsonlShard } from "./jsonl.ts";
import { chatTemplate } from "./chat_template.ts";
import { indexDb } from "./index_db.ts";
import { loraAdapter } from "./lora_adapter.ts";
import { ggufFile } from "./gguf.ts";

/** All formats, in report order. */
export const FORMATS: readonly FuzzFormat[] = [
  tokenizerJson,
  checkpoint,
  hfCheckpoint,
  llmcBin,
  rwkvCpp,
  chatSave,
  trainerState,
  bz2Native,
  bz2Fallback,
  xmlDump,
  jsonlShard,
  chatTemplate,
  indexDb,
  loraAdapter,
  ggufFile,
];

/** The format called `name` (case-insensitive), or undefined. */
export function formatByName(name: string): FuzzFormat | undefined {
  return FORMATS.find((f) => f.name.toLowerCase() === name.toLowerCase());
}
