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
 * The lock is a file beside the stack file, created with O_EXCL. A lock whose
 * holder is gone (same host, pid no longer running: a crash or `kill -9`) is
 * taken over; one held by a live process, or by another host, is reported.
 */
import { randomUUID } from "node:crypto";
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
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
    ) {
        super(
            holder === undefined
                ? `${lockFile} exists but cannot be read; if no mlops deploy or rollback runs for this stack, delete it and run again`
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
    /** The dead holder whose lock was taken over, to report. */
    readonly tookOverFrom?: LockHolder;
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
 * appears whole or not at all.
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
    const mine = `${file}.${holder.token}`;
    writeFileSync(mine, `${JSON.stringify(holder)}\n`, { mode: 0o644 });
    let tookOverFrom: LockHolder | undefined;
    try {
        // Two rounds at most: the second follows the removal of a dead holder's lock.
        for (let round = 0; round < 2; round++) {
            try {
                linkSync(mine, file);
                let released = false;
                const release = () => {
                    if (released) return;
                    released = true;
                    // Only our own lock: never one that another run took over after us.
                    if (readHolder(file)?.token === holder.token) unlinkSync(file);
                };
                return { file, release, ...(tookOverFrom === undefined ? {} : { tookOverFrom }) };
            } catch (error) {
                if (!isErrno(error, "EEXIST")) throw error;
            }
            const current = readHolder(file);
            const dead = current !== undefined && current.host === environment.host && !environment.isRunning(current.pid);
            if (!dead || round === 1) throw new StackFileLockedError(file, current);
            if (!removeIfStillHeldBy(file, current)) throw new StackFileLockedError(file, readHolder(file));
            tookOverFrom = current;
        }
        throw new StackFileLockedError(file, readHolder(file));
    } finally {
        unlinkSync(mine);
    }
}

/**
 * Remove a dead holder's lock, but only that one: the lock is first moved
 * aside, and if what was moved is a live run's lock (a race with another
 * taker), it is linked back.
 */
function removeIfStillHeldBy(file: string, dead: LockHolder): boolean {
    // A name of this taker's own, so that two takers never share it.
    const aside = `${file}.${randomUUID()}.stale`;
    try {
        renameSync(file, aside);
    } catch (error) {
        if (isErrno(error, "ENOENT")) return true; // Someone else removed it: try again.
        throw error;
    }
    if (readHolder(aside)?.token === dead.token) {
        unlinkSync(aside);
        return true;
    }
    try {
        linkSync(aside, file);
    } finally {
        unlinkSync(aside);
    }
    return false;
}
