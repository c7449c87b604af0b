import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { acquireStackLock, lockFileFor, StackFileLockedError, thisProcess, type LockEnvironment } from "../cli/stackLock";
import { BARRIER_ABORT } from "./fixtures/lockRaceBarrier";

let dir: string;
let stackFile: string;

beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "mlops-lock-"));
    stackFile = path.join(dir, "Pulumi.prod.yaml");
    writeFileSync(stackFile, "config: {}\n");
});

/** A process on host `vm`; `running` stands for the host's process table. */
const on = (pid: number, running: number[] = [], host = "vm"): LockEnvironment => ({
    pid,
    host,
    user: "alice",
    now: () => new Date("2026-11-27T09:00:00.000Z"),
    isRunning: (candidate) => candidate === pid || running.includes(candidate),
});

/** The JSON line a race contender (fixtures/lockRaceContender.ts) prints. */
interface ContenderReport {
    readonly pid: number;
    /** `won`, or the name of the error acquireStackLock threw. */
    readonly outcome: string;
    readonly barrierPassed: boolean;
    /** The node:fs call it paused after, e.g. `linkSync`. */
    readonly pausedAfter?: string;
}
interface ContenderRun extends Partial<ContenderReport> {
    readonly code: number | null;
    readonly stderr: string;
}

describe("the stack file's lock", () => {
    it("lets one run hold it, names that run to the next, and is free again after release", () => {
        const first = acquireStackLock(stackFile, "rollback", on(100));
        expect(JSON.parse(readFileSync(lockFileFor(stackFile), "utf8"))).toMatchObject({ pid: 100, host: "vm", user: "alice", command: "rollback" });

        const error = (() => {
            try {
                acquireStackLock(stackFile, "deploy --version 3", on(200, [100]));
            } catch (e) {
                return e;
            }
            return undefined;
        })();
        expect(error).toBeInstanceOf(StackFileLockedError);
        expect((error as Error).message).toContain("mlops rollback (pid 100 on vm, user alice, since 2026-11-27T09:00:00.000Z)");

        first.release();
        expect(existsSync(lockFileFor(stackFile))).toBe(false);
        acquireStackLock(stackFile, "deploy --version 3", on(200)).release();
        // No private files left behind.
        expect(readdirSync(dir)).toEqual(["Pulumi.prod.yaml"]);
    });

    it("takes over a lock whose holder is gone from this host (kill -9), says from whom, and leaves no second lock behind", () => {
        acquireStackLock(stackFile, "rollback --version 2", on(100)); // never released: the process died
        const lock = acquireStackLock(stackFile, "rollback", on(200, []));
        expect(lock.tookOverFrom).toMatchObject({ pid: 100, host: "vm", command: "rollback --version 2" });
        expect(JSON.parse(readFileSync(lockFileFor(stackFile), "utf8"))).toMatchObject({ pid: 200, command: "rollback" });
        expect(readdirSync(dir).sort()).toEqual(["Pulumi.prod.yaml", "Pulumi.prod.yaml.lock"]);
        // The new holder is alive: the next run is refused, and it was not a takeover.
        expect(() => acquireStackLock(stackFile, "deploy", on(300, [200]))).toThrow(/another mlops run holds this stack: mlops rollback \(pid 200 on vm/);
        lock.release();
        expect(readdirSync(dir)).toEqual(["Pulumi.prod.yaml"]);
    });

    it("never takes over a lock from another PID namespace or boot on the same hostname (a container sharing the volume): it reports it", () => {
        acquireStackLock(stackFile, "rollback", { ...on(100), pidNamespace: "pid:[4026531836]", bootId: "boot-a" });
        const lockBefore = readFileSync(lockFileFor(stackFile), "utf8");
        for (const elsewhere of [
            { pidNamespace: "pid:[4026532999]", bootId: "boot-a" },
            { pidNamespace: "pid:[4026531836]", bootId: "boot-b" },
        ]) {
            expect(() => acquireStackLock(stackFile, "rollback", { ...on(200, []), ...elsewhere })).toThrow(
                /another mlops run holds this stack: mlops rollback \(pid 100 on vm/,
            );
        }
        expect(readFileSync(lockFileFor(stackFile), "utf8")).toBe(lockBefore);
        // The same namespace and boot, pid gone: taken over.
        expect(acquireStackLock(stackFile, "rollback", { ...on(200, []), pidNamespace: "pid:[4026531836]", bootId: "boot-a" }).tookOverFrom?.pid).toBe(100);
    });

    it("refuses while another run takes over the same dead lock, naming that run's second lock", () => {
        acquireStackLock(stackFile, "rollback", on(100));
        const guard = `${lockFileFor(stackFile)}.takeover`;
        const takingOver = JSON.stringify({ pid: 150, host: "vm", user: "bob", command: "rollback", startedAt: "x", token: "t-150" });
        writeFileSync(guard, takingOver);
        const lockBefore = readFileSync(lockFileFor(stackFile), "utf8");
        expect(() => acquireStackLock(stackFile, "rollback", on(200, [150]))).toThrow(
            /another mlops run holds this stack: mlops rollback \(pid 150 on vm.*Pulumi\.prod\.yaml\.lock\.takeover/,
        );
        // Nothing replaced: the dead lock and the other run's second lock are as they were.
        expect(readFileSync(lockFileFor(stackFile), "utf8")).toBe(lockBefore);
        expect(readFileSync(guard, "utf8")).toBe(takingOver);
        // A second lock whose holder died too is reported with the file to delete, never removed by mlops.
        expect(() => acquireStackLock(stackFile, "rollback", on(200, []))).toThrow(
            /no longer running: it was stopped while it took over a lock.*delete .*\.lock\.takeover/,
        );
        expect(readFileSync(guard, "utf8")).toBe(takingOver);
    });

    it("reports a lock from another host as held, since it cannot tell whether the holder runs", () => {
        acquireStackLock(stackFile, "rollback", on(100, [], "ci-7"));
        expect(() => acquireStackLock(stackFile, "rollback", on(200, [], "vm"))).toThrow(
            /another mlops run holds this stack.*pid 100 on ci-7.*delete .*Pulumi\.prod\.yaml\.lock/,
        );
    });

    it("refuses when the lock file cannot be read, and names it", () => {
        writeFileSync(lockFileFor(stackFile), "not json");
        expect(() => acquireStackLock(stackFile, "rollback", on(200))).toThrow(/Pulumi\.prod\.yaml\.lock exists but cannot be read/);
        expect(readFileSync(lockFileFor(stackFile), "utf8")).toBe("not json");
    });

    it("release leaves alone a lock that is no longer its own", () => {
        const first = acquireStackLock(stackFile, "rollback", on(100));
        const other = JSON.stringify({ pid: 300, host: "vm", user: "bob", command: "deploy", startedAt: "x", token: "someone-else" });
        writeFileSync(lockFileFor(stackFile), other);
        first.release();
        expect(readFileSync(lockFileFor(stackFile), "utf8")).toBe(other);
    });

    it("gives it to exactly one of six processes that ask at the same moment", async () => {
        await expectOneWinner();
    }, 120_000);

    it("gives a dead holder's lock to exactly one of six processes that find it at the same moment", async () => {
        // A holder on this host (this boot, this PID namespace) whose pid no longer runs (a process that has exited).
        const here = thisProcess();
        const gone = spawnSync(process.execPath, ["-e", ""]).pid;
        writeFileSync(
            lockFileFor(stackFile),
            `${JSON.stringify({ pid: gone, host: hostname(), user: "alice", command: "rollback --version 2", startedAt: "2026-11-27T09:00:00.000Z", token: "dead", bootId: here.bootId, pidNamespace: here.pidNamespace })}\n`,
        );
        // Each pauses right after it read the dead holder, until all six have: every one of them found it dead before any took it.
        await expectOneWinner("readFileSync");
        expect(existsSync(`${lockFileFor(stackFile)}.takeover`)).toBe(false);
    }, 120_000);
});

async function expectOneWinner(pauseAfter?: string): Promise<void> {
    {
        // Real processes on the real file system, each paused right after its
        // first call on the lock path until all six have made theirs (see
        // fixtures/lockRaceBarrier.ts): the moment no scheduler reliably
        // produces. An atomic claim lets one through; check-then-write lets
        // all six through, on every run.
        const contenders = 6;
        const barrierDir = mkdtempSync(path.join(tmpdir(), "mlops-lock-barrier-"));
        const contender = path.join(__dirname, "fixtures", "lockRaceContender.ts");
        const children: ChildProcess[] = [];
        const runs = Array.from(
            { length: contenders },
            () =>
                new Promise<ContenderRun>((resolve, reject) => {
                    const child = spawn(
                        process.execPath,
                        ["--import", "tsx", contender, stackFile, barrierDir, String(contenders), ...(pauseAfter === undefined ? [] : [pauseAfter])],
                        {
                            cwd: path.join(__dirname, ".."),
                            stdio: ["ignore", "pipe", "pipe"],
                        },
                    );
                    children.push(child);
                    let stdout = "";
                    let stderr = "";
                    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
                    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
                    child.on("error", reject);
                    child.on("close", (code) => {
                        // Died before reaching the lock: the others would wait for it forever.
                        if (!existsSync(path.join(barrierDir, String(child.pid)))) writeFileSync(path.join(barrierDir, BARRIER_ABORT), "");
                        const report = stdout.trim().split("\n").pop() ?? "";
                        resolve({ code, stderr, ...(report.startsWith("{") ? (JSON.parse(report) as ContenderReport) : {}) });
                    });
                }),
        );
        let results: ContenderRun[];
        try {
            results = await Promise.all(runs);
        } finally {
            for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
            rmSync(barrierDir, { recursive: true, force: true });
        }

        // The barrier held: each contender paused after a call on the lock path (else this would be a plain race again).
        expect(
            results.map((r) => r.barrierPassed),
            JSON.stringify(results, null, 2),
        ).toEqual(Array<boolean>(contenders).fill(true));
        const winners = results.filter((r) => r.outcome === "won");
        expect(winners, JSON.stringify(results, null, 2)).toHaveLength(1);
        expect(results.filter((r) => r.outcome === "StackFileLockedError")).toHaveLength(contenders - 1);
        // And the lock on disk is the winner's.
        expect((JSON.parse(readFileSync(lockFileFor(stackFile), "utf8")) as { pid: number }).pid).toBe(winners[0].pid);
    }
}
