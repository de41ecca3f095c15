/**
 * Public API of src/native (re-exported by the top-level mod.ts): the native shim (mmap,
 * bzip2) and the pure fallbacks behind the same functions.
 *
 * @module
 */
export {
  type Bz2Decompressor,
  type Bz2Options,
  createBz2Decompressor,
  decompressBz2,
  isBz2,
  readBz2File,
  readFileChunks,
} from "./bz2.ts";
export { type MapAdvice, mapFile, type MapFileOptions, type MappedFile } from "./mmap.ts";
export {
  loadNative,
  nativeCacheDir,
  type NativeLibrary,
  nativeUnavailableReason,
} from "./loader.ts";
export { buildNativeLibrary, type BuildNativeOptions, NATIVE_LIBRARY_NAME } from "./build.ts";
