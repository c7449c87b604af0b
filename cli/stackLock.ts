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
 * holder is gone (same host, pid no longer running: `kill -9`) is taken over,
 * under a second lock so that two runs finding it at once do not both take
 * it; the run that takes it says so. A live holder, or one on another host
 * (whose pid mlops cannot check), is reported with how to reach it.
 */
import { randomUUID } from "node:crypto";
import { linkSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
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
    /** Linux: the boot and the PID namespace the pid belongs to (containers on one host share a hostname, not pids). */
    readonly bootId?: string;
    readonly pidNamespace?: string;
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
                  ? `${lockFile} is held by mlops ${holder.command} (pid ${holder.pid} on ${holder.host}, user ${holder.user}, since ${holder.startedAt}), which is no longer running: it was stopped while it took over a lock. ` +
                    `If no mlops run is under way for this stack, delete ${lockFile} and run again.`
                  : `another mlops run holds this stack: mlops ${holder.command} (pid ${holder.pid} on ${holder.host}, user ${holder.user}, since ${holder.startedAt}). ` +
                    `Wait for it to finish, then run again; if that process is gone (another host, so mlops cannot tell), delete ${lockFile}.`,
        );
        this.name = "StackFileLockedError";
    }
}

export interface StackLock {
    readonly file: string;
    /** The holder whose lock this run took over: it ran on this host and its process is gone (killed before it could release it). */
    readonly tookOverFrom?: LockHolder;
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
    /** Linux: /proc/sys/kernel/random/boot_id and the inode of /proc/self/ns/pid; undefined elsewhere. */
    readonly bootId?: string;
    readonly pidNamespace?: string;
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

/** Linux facts that say whether a pid here is the pid a lock names; undefined where /proc does not have them. */
function linuxIdentity(): { bootId?: string; pidNamespace?: string } {
    try {
        return { bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(), pidNamespace: readlinkSync("/proc/self/ns/pid") };
    } catch {
        return {};
    }
}

export const thisProcess = (): LockEnvironment => ({
    pid: process.pid,
    host: hostname(),
    user: currentUser(),
    now: () => new Date(),
    isRunning: processIsRunning,
    ...linuxIdentity(),
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
 * A holder that is gone (same host, pid no longer running) is taken over
 * (`takeOver`), and the lock says from whom (`tookOverFrom`): a run killed
 * mid-rollback must not keep the next one, which finishes its work, out.
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
        ...(environment.bootId === undefined ? {} : { bootId: environment.bootId }),
        ...(environment.pidNamespace === undefined ? {} : { pidNamespace: environment.pidNamespace }),
    };
    const content = `${JSON.stringify(holder)}\n`;
    let tookOverFrom: LockHolder | undefined;
    try {
        createExclusively(file, content, holder.token);
    } catch (error) {
        if (!isErrno(error, "EEXIST")) throw error;
        const current = readHolder(file);
        if (current === undefined || !isGone(current, environment)) throw new StackFileLockedError(file, current);
        takeOver(file, current, content, holder.token, environment);
        tookOverFrom = current;
    }
    let released = false;
    return {
        file,
        ...(tookOverFrom === undefined ? {} : { tookOverFrom }),
        release: () => {
            if (released) return;
            released = true;
            // Nobody else removes or replaces a live run's lock, so this one is ours; checked all the same.
            if (readHolder(file)?.token === holder.token) rmSync(file, { force: true });
        },
    };
}

/**
 * The holder ran here and its process is gone. A hostname alone does not
 * say "here": containers sharing a volume may share a hostname but not a
 * PID namespace (where the holder's pid means another process, or none),
 * so where the lock and this process record their boot and PID namespace,
 * both must match.
 */
const isGone = (holder: LockHolder, environment: LockEnvironment): boolean =>
    holder.host === environment.host &&
    holder.bootId === environment.bootId &&
    holder.pidNamespace === environment.pidNamespace &&
    !environment.isRunning(holder.pid);

/**
 * Replace the lock of `gone` with ours, under a second lock
 * (`<lock>.takeover`, taken the same atomic way): of the runs that find the
 * same dead holder at once, one takes the second lock, checks under it that
 * the lock still names that holder, and renames its own file over it
 * (atomic); the others find the second lock (or, after it, a live holder)
 * and are refused. A second lock left by a run killed inside these few
 * calls is reported like any other lock, with the file to delete.
 */
function takeOver(file: string, gone: LockHolder, content: string, token: string, environment: LockEnvironment): void {
    const guard = `${file}.takeover`;
    try {
        createExclusively(guard, content, token);
    } catch (error) {
        if (!isErrno(error, "EEXIST")) throw error;
        throw new StackFileLockedError(guard, readHolder(guard), readHolder(guard) !== undefined && isGone(readHolder(guard) as LockHolder, environment));
    }
    try {
        const current = readHolder(file);
        if (current?.token !== gone.token) throw new StackFileLockedError(file, current, current !== undefined && isGone(current, environment));
        const mine = `${file}.${token}`;
        writeFileSync(mine, content, { mode: 0o644 });
        renameSync(mine, file);
    } finally {
        if (readHolder(guard)?.token === token) rmSync(guard, { force: true });
    }
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
