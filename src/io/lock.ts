/**
 * Folder locks: a run directory in use holds a lock file naming the process that uses it, so
 * that a second `train` or `resume` on it is refused instead of interleaving two runs.
 *
 * The lock file (`.bentevi.lock`, JSON: `pid`, `command`, `since`) is written completely
 * under a temporary name and hard-linked into place, which fails when a lock already exists
 * (atomic on every local file system). A lock whose process is no longer running (killed,
 * crashed, machine restarted) is stale: it is taken over with a notice. The lock is removed
 * when released, and also when the process ends through `Deno.exit` (an `unload` listener).
 *
 * Needs `--allow-read --allow-write` only: liveness is read from `/proc` on Linux; elsewhere
 * `Deno.kill(pid, 0)` is tried, and without `--allow-run` a lock is assumed live.
 *
 * @module
 */
import { join } from "node:path";
import { BenteviError, fsError, writeError } from "../errors.ts";
import { tempPathFor } from "./atomic.ts";

/** Name of the lock file inside a locked folder. */
export const LOCK_FILE = ".bentevi.lock";

/** What a lock file holds. */
export interface LockInfo {
  /** Process id of the holder. */
  pid: number;
  /** What the holder is doing (`train`, `resume`). */
  command: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
}

/** A held folder lock. */
export interface FolderLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock (and the folder, if the lock created it and it is still empty). Idempotent. */
  release(): Promise<void>;
}

/** Options of {@link lockFolder}. */
export interface LockOptions {
  /** What the holder does, recorded in the lock and shown to others (`train`, `resume`). */
  command: string;
  /** Create the folder when missing (default false: a missing folder is an error). */
  create?: boolean;
  /** One-line notices (a stale lock taken over). */
  log?: (line: string) => void;
}

/** Releases of the locks this process holds, run synchronously when it exits. */
const held = new Set<() => void>();
let unloadHooked = false;

function hookUnload(): void {
  if (unloadHooked) return;
  unloadHooked = true;
  globalThis.addEventListener("unload", () => {
    for (const release of [...held]) release();
  });
}

/**
 * Whether process `pid` is running (a zombie counts as ended); `undefined` when this process
 * cannot tell (no `/proc` and no `--allow-run`), so that a lock is never broken on a guess.
 *
 * @example
 * ```ts
 * import { processAlive } from "./lock.ts";
 * console.log(await processAlive(Deno.pid)); // true
 * ```
 */
export async function processAlive(pid: number): Promise<boolean | undefined> {
  if (pid === Deno.pid) return true;
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      try {
        await Deno.stat("/proc/self/stat");
        return false; // there is a /proc, and no such process in it
      } catch { /* no /proc: ask the kernel below */ }
    }
  }
  try {
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) return undefined;
    return !(e instanceof Deno.errors.NotFound || /ESRCH|no such process/i.test(String(e)));
  }
}

async function readLock(path: string): Promise<{ text: string; info: LockInfo | null } | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw fsError(e, path);
  }
  try {
    const j = JSON.parse(text);
    if (Number.isInteger(j?.pid) && j.pid > 0) {
      return { text, info: { pid: j.pid, command: String(j.command), since: String(j.since) } };
    }
  } catch { /* not a lock we wrote */ }
  return { text, info: null };
}

/** Puts `text` at `path` only if nothing is there; false when something is. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  const tmp = tempPathFor(path);
  try {
    await Deno.writeTextFile(tmp, text, { createNew: true });
  } catch (e) {
    throw writeError(e, path);
  }
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    // No hard links on this file system: an exclusive create (the content follows at once).
    try {
      await Deno.writeTextFile(path, text, { createNew: true });
      return true;
    } catch (e2) {
      if (e2 instanceof Deno.errors.AlreadyExists) return false;
      throw writeError(e2, path);
    }
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/**
 * Locks `dir` for this process, or refuses with a {@link BenteviError} naming the process that
 * holds it. A stale lock (its process has ended) is taken over with a notice on `log`.
 *
 * @example
 * ```ts
 * import { lockFolder } from "./lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await lockFolder(dir, { command: "train" });
 * await lockFolder(dir, { command: "resume" }).catch((e) => console.log(e.message)); // in use
 * await lock.release();
 * ```
 */
export async function lockFolder(dir: string, options: LockOptions): Promise<FolderLock> {
  let created = false;
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) throw new BenteviError(`${dir}: exists and is not a folder`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) || !options.create) throw fsError(e, dir);
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e2) {
      throw writeError(e2, dir);
    }
    created = true;
  }
  const path = join(dir, LOCK_FILE);
  const mine: LockInfo = {
    pid: Deno.pid,
    command: options.command,
    since: new Date().toISOString(),
  };
  const text = JSON.stringify(mine) + "\n";
  for (let attempt = 0;; attempt++) {
    if (await createExclusive(path, text)) break;
    const other = await readLock(path);
    if (!other) continue; // released meanwhile
    const alive = other.info && (other.info.pid === Deno.pid || await processAlive(other.info.pid));
    if (other.info && alive === undefined) {
      throw new BenteviError(
        `${dir}: locked by process ${other.info.pid} (\`${other.info.command}\` since ${other.info.since}), and this process cannot tell whether it still runs; if it does not, remove ${path}`,
      );
    }
    if (other.info && alive) {
      throw new BenteviError(
        `${dir}: in use by another Bentevi process (PID ${other.info.pid}, \`${other.info.command}\` since ${other.info.since}); wait for it to end or stop it — --force does not override a lock`,
      );
    }
    if (attempt >= 3) {
      throw new BenteviError(`${path}: cannot take over the stale lock; remove it by hand`);
    }
    // Stale: move it aside (only one taker wins the rename), check that what was moved is the
    // lock judged stale, then try again.
    const aside = tempPathFor(path);
    try {
      await Deno.rename(path, aside);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw writeError(e, path);
    }
    const moved = await readLock(aside);
    if (moved && moved.text !== other.text) {
      // Another process took it over first: give its lock back.
      await Deno.link(aside, path).catch(() => {});
    } else {
      options.log?.(
        `notice: ${dir}: taking over a stale lock ${
          other.info
            ? `of process ${other.info.pid} (\`${other.info.command}\` since ${other.info.since}), which is no longer running`
            : "that is not a Bentevi lock file"
        }`,
      );
    }
    await Deno.remove(aside).catch(() => {});
  }

  let released = false;
  const isMine = (t: string | null) => t === text;
  const releaseSync = () => {
    if (released) return;
    released = true;
    held.delete(releaseSync);
    try {
      if (isMine(Deno.readTextFileSync(path))) Deno.removeSync(path);
      if (created) Deno.removeSync(dir); // only when empty: fails otherwise
    } catch { /* gone, or the folder holds files */ }
  };
  held.add(releaseSync);
  hookUnload();
  return {
    path,
    release: async () => {
      if (released) return;
      released = true;
      held.delete(releaseSync);
      const now = await readLock(path).catch(() => null);
      if (isMine(now?.text ?? null)) await Deno.remove(path).catch(() => {});
      if (created) await Deno.remove(dir).catch(() => {});
    },
  };
}

/**
 * Runs `fn` with `dir` locked (see {@link lockFolder}); the lock is released however `fn`
 * ends.
 *
 * @example
 * ```ts
 * import { withFolderLock } from "./lock.ts";
 * const dir = await Deno.makeTempDir();
 * await withFolderLock(dir, { command: "train" }, async () => {
 *   await Deno.writeTextFile(`${dir}/run.json`, "{}");
 * });
 * ```
 */
export async function withFolderLock<T>(
  dir: string,
  options: LockOptions,
  fn: (lock: FolderLock) => Promise<T>,
): Promise<T> {
  const lock = await lockFolder(dir, options);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
