/**
 * One `mlops deploy` / `mlops rollback` per stack file at a time.
 *
 * Pulumi's own lock is taken by the engine at the start of the update, but a
 * pin change starts earlier: it reads the stack file, decides, writes the new
 * pin, and puts the file back if the update cannot run. Two runs interleaving
 * those steps could leave the file pinning what does not serve (the loser
 * putting back the bytes it read after the winner wrote). This lock covers the
 * whole run, from the first read of the file to the last write.
 *
 * The lock is a file beside the stack file, created atomically. A lock whose
 * holder is gone (same host, pid no longer running: `kill -9`) is reported as
 * such, with the file to delete; a live holder, or one on another host, is
 * reported with how to reach it.
 */
import { randomUUID } from "node:crypto";
import { linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";

export interface LockHolder {
    readonly pid: number;
    readonly host: string;
    readonly user: string;
    /** What the holder runs, e.g. `rollback` or `deploy --version 3`. */
    readonly command: string;
    readonly startedAt: string;
    /** Tells this holder from a later one with the same pid. */
    readonly token: string;
}

/** Another mlops run holds the stack file: exit 1, the holder named. */
export class StackFileLockedError extends Error {
    constructor(
        public readonly lockFile: string,
        public readonly holder: LockHolder | undefined,
        /** The holder ran on this host and its pid is gone: killed before it could release the lock. */
        public readonly holderGone = false,
    ) {
        super(
            holder === undefined
                ? `${lockFile} exists but cannot be read; if no mlops deploy or rollback runs for this stack, delete it and run again`
                : holderGone
                  ? `${lockFile} is held by mlops ${holder.command} (pid ${holder.pid} on ${holder.host}, user ${holder.user}, since ${holder.startedAt}), which is no longer running: it was stopped before it could release the lock. ` +
                    `If no mlops run is under way for this stack, delete ${lockFile} and run again (mlops status shows whether the update it ran finished).`
                  : `another mlops run holds this stack: mlops ${holder.command} (pid ${holder.pid} on ${holder.host}, user ${holder.user}, since ${holder.startedAt}). ` +
                    `Wait for it to finish, then run again; if that process is gone (another host, so mlops cannot tell), delete ${lockFile}.`,
        );
        this.name = "StackFileLockedError";
    }
}

export interface StackLock {
    readonly file: string;
    /** Remove the lock if it is still ours; safe to call more than once. */
    release(): void;
}

export interface LockEnvironment {
    readonly pid: number;
    readonly host: string;
    readonly user: string;
    readonly now: () => Date;
    /** Whether a process with this pid runs on this host. */
    readonly isRunning: (pid: number) => boolean;
}

function processIsRunning(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        // EPERM: it runs, as another user.
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}

function currentUser(): string {
    try {
        return userInfo().username;
    } catch {
        return "unknown";
    }
}

export const thisProcess = (): LockEnvironment => ({
    pid: process.pid,
    host: hostname(),
    user: currentUser(),
    now: () => new Date(),
    isRunning: processIsRunning,
});

export const lockFileFor = (stackFile: string): string => `${stackFile}.lock`;

function readHolder(file: string): LockHolder | undefined {
    try {
        const holder = JSON.parse(readFileSync(file, "utf8")) as Partial<LockHolder>;
        return typeof holder.pid === "number" && typeof holder.host === "string" && typeof holder.token === "string" ? (holder as LockHolder) : undefined;
    } catch {
        return undefined;
    }
}

const isErrno = (error: unknown, code: string) => (error as NodeJS.ErrnoException | undefined)?.code === code;

/**
 * Take the lock for `stackFile`, or throw StackFileLockedError naming the
 * holder. The lock is written to a private file and linked into place, so it
 * appears whole or not at all (where hard links are not supported, it is
 * created with O_EXCL and written after).
 *
 * A holder that is gone (same host, pid no longer running) is reported, not
 * taken over: taking a lock over safely needs a second lock, and a run killed
 * with `kill -9` is rare enough for a person to delete one file.
 */
export function acquireStackLock(stackFile: string, command: string, environment: LockEnvironment = thisProcess()): StackLock {
    const file = lockFileFor(stackFile);
    const holder: LockHolder = {
        pid: environment.pid,
        host: environment.host,
        user: environment.user,
        command,
        startedAt: environment.now().toISOString(),
        token: randomUUID(),
    };
    const content = `${JSON.stringify(holder)}\n`;
    try {
        createExclusively(file, content, holder.token);
    } catch (error) {
        if (!isErrno(error, "EEXIST")) throw error;
        const current = readHolder(file);
        const gone = current !== undefined && current.host === environment.host && !environment.isRunning(current.pid);
        throw new StackFileLockedError(file, current, gone);
    }
    let released = false;
    return {
        file,
        release: () => {
            if (released) return;
            released = true;
            // Nobody else removes or replaces a live run's lock, so this one is ours; checked all the same.
            if (readHolder(file)?.token === holder.token) rmSync(file, { force: true });
        },
    };
}

function createExclusively(file: string, content: string, token: string): void {
    const mine = `${file}.${token}`;
    writeFileSync(mine, content, { mode: 0o644 });
    try {
        linkSync(mine, file);
    } catch (error) {
        if (!isErrno(error, "EPERM") && !isErrno(error, "ENOTSUP") && !isErrno(error, "EXDEV")) throw error;
        // No hard links here: O_EXCL, then the content.
        writeFileSync(file, content, { flag: "wx", mode: 0o644 });
    } finally {
        rmSync(mine, { force: true });
    }
}
