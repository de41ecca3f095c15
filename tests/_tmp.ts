// Temporary directories for tests that remove themselves, so a test run leaves nothing in /tmp.

/** A temporary directory that is removed, with everything in it, when disposed. */
export interface TempDir extends AsyncDisposable, Disposable {
  /** The directory's path (as `Deno.makeTempDir` returns it). */
  readonly path: string;
}

function disposable(path: string): TempDir {
  const gone = (e: unknown) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  };
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(gone);
    },
    [Symbol.dispose]() {
      try {
        Deno.removeSync(path, { recursive: true });
      } catch (e) {
        gone(e);
      }
    },
  };
}

/**
 * Makes a temporary directory (`Deno.makeTempDir(options)`) that is removed recursively when the
 * binding holding it goes out of scope, whether the test passed or threw; one already gone is
 * fine:
 *
 * ```ts
 * await using tmp = await tempDir();
 * const dir = tmp.path;
 * ```
 */
export async function tempDir(options?: Deno.MakeTempOptions): Promise<TempDir> {
  return disposable(await Deno.makeTempDir(options));
}

/** {@link tempDir}, synchronously (`using tmp = tempDirSync();`). */
export function tempDirSync(options?: Deno.MakeTempOptions): TempDir {
  return disposable(Deno.makeTempDirSync(options));
}

/**
 * Makes a temporary directory (`Deno.makeTempDir(options)`) that is removed recursively when this
 * test module unloads (passed or failed): for a folder made at module top level and shared by the
 * module's tests, or by a fixture helper whose callers may keep it to the end. Removing it earlier
 * is fine.
 */
export async function moduleTempDir(options?: Deno.MakeTempOptions): Promise<string> {
  const dir = disposable(await Deno.makeTempDir(options));
  globalThis.addEventListener("unload", () => dir[Symbol.dispose]());
  return dir.path;
}
