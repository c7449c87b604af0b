/**
 * Database snapshots tied to model versions: the ledger's pure functions,
 * the restore plan, and the restore's checks and wait against a stand-in
 * for RDS. What the program declares under Pulumi's mock runtime, and what
 * `mlops plan` shows of it, is in databaseSnapshotsProgram.test.ts; the
 * restore against emulated RDS in databaseRestore.moto.test.ts.
 */
import fc from "fast-check";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { BadInputError } from "../config/badInput";
import { parseStackConfig, RDS_IDENTIFIER_PATTERN, VERSION_ID_PATTERN } from "../config/schema";
import {
    checkRestorable,
    describeRestore,
    planRestore,
    restoredIdentifier,
    restoredWriterIdentifier,
    restoreTags,
    runRestore,
    type RdsPorts,
    type RestorePlan,
    type SnapshotState,
} from "../database/restore";
import {
    compactTimestamp,
    currentSnapshot,
    nextSnapshotLedger,
    snapshotHoldsSwitch,
    snapshotIdentifier,
    snapshotLedgerFromOutput,
    snapshotTags,
    type SnapshotRecord,
} from "../database/snapshots";
import { sagemakerRawConfig } from "./helpers";
import { configWithDatabase as config, EXTERNAL_DATABASE, NOW, snapshotRecord as record } from "./fixtures/databaseSnapshots";

/** RDS snapshot identifiers: a letter first, then letters, digits and single hyphens, at most 255. */
const RDS_SNAPSHOT_ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

describe("the snapshot ledger", () => {
    it("takes a snapshot when the pin changes, named after the model, the stack, its place in the ledger and both versions", () => {
        const previous = [record(1, null, "2", "2026-11-01T00:00:00.000Z")];
        const { ledger, taken } = nextSnapshotLedger(previous, config(EXTERNAL_DATABASE), { pinned: "2" }, "prod", NOW);
        expect(taken).toEqual({
            identifier: "fraud-detector-prod-2-v2-to-v3",
            kind: "instance",
            database: "fraud-features",
            from: "2",
            to: "3",
            at: NOW,
        });
        expect(ledger).toEqual([...previous, taken]);
    });

    it("takes no new snapshot when the same pin runs again", () => {
        const previous = [record(1, "2", "3")];
        expect(nextSnapshotLedger(previous, config(EXTERNAL_DATABASE), { pinned: "3" }, "test", "2026-11-28T00:00:00.000Z")).toEqual({ ledger: previous });
    });

    it("names the same snapshot when an update is retried after one that failed before writing its outputs", () => {
        const previous = [record(1, null, "2")];
        const first = nextSnapshotLedger(previous, config(EXTERNAL_DATABASE), { pinned: "2" }, "test", NOW);
        const retry = nextSnapshotLedger(previous, config(EXTERNAL_DATABASE), { pinned: "2" }, "test", "2026-11-27T15:00:00.000Z");
        expect(retry.taken?.identifier).toBe(first.taken?.identifier);
    });

    it("snapshots before the stack's first deploy, from no version", () => {
        const { taken } = nextSnapshotLedger([], config(EXTERNAL_DATABASE), { pinned: null }, "test", NOW);
        expect(taken).toMatchObject({ identifier: "fraud-detector-test-1-initial-to-v3", from: null, to: "3" });
    });

    it("snapshots the database that served until now: on a restore, the one it moves away from", () => {
        const restored = config({ ...EXTERNAL_DATABASE, restoredInto: "fraud-features-restore-202611271300" }, { pinned: "2" });
        expect(nextSnapshotLedger([], restored, { pinned: "3", servingDatabase: "fraud-features" }, "test", NOW).taken?.database).toBe("fraud-features");
        expect(nextSnapshotLedger([], restored, { pinned: "3" }, "test", NOW).taken?.database).toBe("fraud-features-restore-202611271300");
    });

    it("takes nothing without mlops:database", () => {
        expect(nextSnapshotLedger([], parseStackConfig(sagemakerRawConfig()), { pinned: "2" }, "test", NOW)).toEqual({ ledger: [] });
    });

    it("declares only the snapshot of the current pin", () => {
        const ledger = [record(1, null, "2"), record(2, "2", "3")];
        expect(currentSnapshot(ledger, "3")).toEqual(ledger[1]);
        expect(currentSnapshot(ledger, "2")).toBeUndefined();
        expect(currentSnapshot([], "3")).toBeUndefined();
    });

    it("holds the switch for a move forward and the first deploy, not for a rollback", () => {
        const versions = [{ version: "1" }, { version: "2" }, { version: "3" }];
        expect(snapshotHoldsSwitch(record(1, "2", "3"), versions)).toBe(true);
        expect(snapshotHoldsSwitch(record(1, null, "3"), versions)).toBe(true);
        expect(snapshotHoldsSwitch(record(1, "3", "2"), versions)).toBe(false);
    });

    it("names every snapshot validly for RDS, whatever the stack and version ids", () => {
        const versionId = fc.stringMatching(VERSION_ID_PATTERN);
        const stackName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/);
        fc.assert(
            fc.property(stackName, fc.integer({ min: 1, max: 1e6 }), fc.option(versionId, { nil: null }), versionId, (stack, sequence, from, to) => {
                const identifier = snapshotIdentifier("fraud-detector", stack, sequence, from, to);
                expect(identifier).toMatch(RDS_SNAPSHOT_ID);
                expect(identifier.length).toBeLessThanOrEqual(255);
            }),
        );
    });

    it("reads back only well-formed records from the stack's outputs, skipping any entry that is no object (even undefined) without throwing", () => {
        const good = record(1, "2", "3");
        expect(snapshotLedgerFromOutput([good, { ...good, kind: "table" }, { identifier: "x" }, null, "text"])).toEqual([good]);
        expect(snapshotLedgerFromOutput([undefined, 5, true, good])).toEqual([good]);
        expect(snapshotLedgerFromOutput(undefined)).toEqual([]);
    });

    it("takes the time of a run to the second, without its fraction: the final snapshot and the restored database are named by it", () => {
        expect(compactTimestamp("2026-11-27T12:34:56.789Z")).toBe("20261127123456");
        expect(compactTimestamp("2026-11-27T12:34:56Z")).toBe("20261127123456");
    });

    it("names a snapshot from the ids as RDS takes them: lowercase, dots and underscores as hyphens, and 'stack' for a stack named by punctuation alone", () => {
        expect(snapshotIdentifier("fraud-detector", "Prod_EU", 1, "V2.1_rc", "3")).toBe("fraud-detector-prod-eu-1-vv2-1-rc-to-v3");
        expect(snapshotIdentifier("fraud-detector", "_", 1, "2", "3")).toBe("fraud-detector-stack-1-v2-to-v3");
    });

    it("cuts an identifier longer than RDS takes and ends it with a hash of the whole, the same on every run; one that fits is kept whole", () => {
        // GIVEN ids whose whole identifier (91 characters) fits a DB snapshot's 255 but not a cluster snapshot's 63
        const [model, stack, from, to] = ["fraud-detector-for-card-payments", "production-eu-west-1", "2026.11.27-rc1", "2026.12.01-rc2"];
        const whole = "fraud-detector-for-card-payments-production-eu-west-1-12-v2026-11-27-rc1-to-v2026-12-01-rc2";
        expect(snapshotIdentifier(model, stack, 12, from, to)).toBe(whole);
        // THEN cut to 63, the cut's trailing hyphen dropped, and the hash pinned: a retried update must find the same snapshot
        expect(snapshotIdentifier(model, stack, 12, from, to, 63)).toBe("fraud-detector-for-card-payments-production-eu-west-1-9ee8730c");
        // At exactly the limit nothing is cut; one less and the hash takes the end.
        expect(snapshotIdentifier("m", "s", 1, "2", "3", 14)).toBe("m-s-1-v2-to-v3");
        expect(snapshotIdentifier("m", "s", 1, "2", "3", 13)).toBe("m-s-eb7af6eb");
    });

    it("keeps a cluster snapshot's identifier within 63 characters and an instance snapshot's within 255", () => {
        const long = { model: "fraud-detector-for-card-payments", pinned: "2026.12.01-rc2" };
        const cluster = { ...long, database: parseStackConfig(sagemakerRawConfig({ database: { kind: "cluster", identifier: "fraud-features" } })).database };
        const instance = { ...long, database: config(EXTERNAL_DATABASE).database };
        const deployed = { pinned: "2026.11.27-rc1" };
        expect(nextSnapshotLedger([], cluster, deployed, "production-eu-west-1", NOW).taken).toMatchObject({
            identifier: "fraud-detector-for-card-payments-production-eu-west-1-b2408758",
            kind: "cluster",
        });
        expect(nextSnapshotLedger([], instance, deployed, "production-eu-west-1", NOW).taken?.identifier).toBe(
            "fraud-detector-for-card-payments-production-eu-west-1-1-v2026-11-27-rc1-to-v2026-12-01-rc2",
        );
    });

    it("tags a snapshot with the model, the stack and both versions ('none' before the first deploy), as managed by mlops-rollback", () => {
        expect(snapshotTags(record(1, null, "2"), "fraud-detector", "prod")).toEqual({
            "mlops:model": "fraud-detector",
            "mlops:stack": "prod",
            "mlops:from-version": "none",
            "mlops:to-version": "2",
            "mlops:managed-by": "mlops-rollback",
        });
        expect(snapshotTags(record(2, "2", "3"), "fraud-detector", "prod")["mlops:from-version"]).toBe("2");
    });

    it("declares no snapshot once the pin changed again, even when an older record took the pin live (a rollback to it)", () => {
        // 2 went live, then 3, then 2 again: the program declares the newest record's snapshot, and only while its version is pinned.
        const ledger = [record(1, null, "2"), record(2, "2", "3"), record(3, "3", "2")];
        expect(currentSnapshot(ledger, "2")).toEqual(ledger[2]);
        expect(currentSnapshot(ledger, "3")).toBeUndefined();
    });

    it("reads back each field as the program wrote it: non-empty text, a known kind, and from null or a version", () => {
        const good = record(1, "2", "3");
        const first = { ...record(2, null, "2"), kind: "cluster" };
        expect(snapshotLedgerFromOutput([good, first])).toEqual([good, first]);
        for (const field of ["identifier", "database", "to", "at"] as const) {
            expect(snapshotLedgerFromOutput([{ ...good, [field]: "" }]), `empty ${field}`).toEqual([]);
            expect(snapshotLedgerFromOutput([{ ...good, [field]: 7 }]), `${field} not text`).toEqual([]);
        }
        expect(
            snapshotLedgerFromOutput([
                { ...good, from: "" },
                { ...good, from: 2 },
                { ...good, from: undefined },
            ]),
        ).toEqual([]);
        expect(snapshotLedgerFromOutput([{ ...good, kind: undefined }, 42, "fraud-detector-test-1-v2-to-v3"])).toEqual([]);
    });
});

describe("the restore plan", () => {
    // Built per test, not once for the describe block: `npm run test:mutation` can then tell which test covers which line.
    let ledger: SnapshotRecord[];
    beforeEach(() => {
        ledger = [record(1, null, "2", "2026-11-01T00:00:00.000Z"), record(2, "2", "3", "2026-11-10T00:00:00.000Z"), record(3, "3", "2"), record(4, "2", "3")];
    });

    it("restores the newest snapshot taken when the rolled-back-from version went live, into a new database", () => {
        const plan = planRestore(config(EXTERNAL_DATABASE).database, ledger, "3", "2026-11-27T13:05:00.000Z");
        expect(plan).toEqual({
            kind: "instance",
            snapshot: ledger[3],
            replacedDatabase: "fraud-features",
            restoredDatabase: "fraud-features-restore-202611271305",
            rolledBackFrom: "3",
        });
    });

    it("refuses, naming the version, when no snapshot was taken when it went live", () => {
        let error: unknown;
        try {
            planRestore(config(EXTERNAL_DATABASE).database, [record(1, null, "2")], "3", NOW);
        } catch (caught) {
            error = caught;
        }
        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toContain("no snapshot from when version 3 went live (it has snapshots for version 2)");
    });

    it("refuses without mlops:database", () => {
        expect(() => planRestore(undefined, ledger, "3", NOW)).toThrow(/no mlops:database section/);
    });

    it("keeps restored names (and a cluster's writer) within RDS's 63 characters, valid, with the whole time stamp", () => {
        const long = `a${"-b".repeat(31)}`;
        for (const kind of ["instance", "cluster"] as const) {
            const name = restoredIdentifier(long, NOW, kind);
            const longest = kind === "cluster" ? restoredWriterIdentifier(name) : name;
            expect(longest.length).toBeLessThanOrEqual(63);
            expect(longest).toMatch(RDS_IDENTIFIER_PATTERN);
            expect(longest).toContain("-restore-202611271234");
        }
    });

    it("names a second restore after the original, not after the first restore", () => {
        const again = planRestore(config({ ...EXTERNAL_DATABASE, restoredInto: "fraud-features-restore-202611010000" }).database, ledger, "3", NOW);
        expect(again.replacedDatabase).toBe("fraud-features-restore-202611010000");
        expect(again.restoredDatabase).toBe("fraud-features-restore-202611271234");
    });

    it("refuses when the stack has taken no snapshot at all, and says what to do instead", () => {
        expect(() => planRestore(config(EXTERNAL_DATABASE).database, [], "3", NOW)).toThrow(
            "--restore-database: the stack has no snapshot from when version 3 went live (it has no snapshots yet); " +
                "roll back without --restore-database, and restore by hand from an automated backup if the data needs it",
        );
        expect(() => planRestore(config(EXTERNAL_DATABASE).database, [record(1, null, "1"), record(2, "1", "2"), record(3, "2", "1")], "3", NOW)).toThrow(
            "(it has snapshots for version 1, 2)",
        );
    });

    it("refuses a snapshot of another kind of database than mlops:database is now, leaving the restore to a person", () => {
        const clusterSnapshot = { ...record(1, "2", "3"), kind: "cluster" as const };
        expect(() => planRestore(config(EXTERNAL_DATABASE).database, [clusterSnapshot], "3", NOW)).toThrow(
            new BadInputError(
                `--restore-database: snapshot ${clusterSnapshot.identifier} is of a DB cluster, but mlops:database.kind is now instance; restore it by hand`,
            ),
        );
    });

    it("leaves a cluster's name room for its writer's suffix, and an instance's name all of RDS's 63 characters", () => {
        const longest = "a".repeat(63);
        expect(restoredIdentifier(longest, NOW, "instance")).toBe(`${"a".repeat(42)}-restore-202611271234`);
        expect(restoredIdentifier(longest, NOW, "cluster")).toBe(`${"a".repeat(35)}-restore-202611271234`);
        expect(restoredWriterIdentifier("fraud-features-restore-202611271234")).toBe("fraud-features-restore-202611271234-writer");
    });
});

/** Stands for RDS before a restore: the snapshot as DescribeDB*Snapshots reports it, and the databases that exist. */
function rdsBeforeRestore(snapshot: SnapshotState | undefined, existing: readonly string[] = []): RdsPorts & { asked: string[] } {
    const asked: string[] = [];
    return {
        asked,
        describeSnapshot: () => Promise.resolve(snapshot),
        describeDatabase: (kind, identifier) => {
            asked.push(`${kind} ${identifier}`);
            return Promise.resolve(existing.includes(`${kind} ${identifier}`) ? { status: "available" } : undefined);
        },
        placementOf: () => Promise.reject(new Error("a check must not read the placement")),
        restore: () => Promise.reject(new Error("a check must not restore")),
    };
}

describe("the restore's checks, before anything changes", () => {
    // 3 went live at NOW; the restore runs the next day.
    const wentLive = new Date(NOW);
    const hours = (n: number) => new Date(wentLive.getTime() + n * 3600_000);
    let instancePlan: RestorePlan;
    let clusterPlan: RestorePlan;
    beforeEach(() => {
        instancePlan = planRestore(config(EXTERNAL_DATABASE).database, [record(1, "2", "3")], "3", "2026-11-28T09:00:00.000Z");
        clusterPlan = planRestore(
            config({ kind: "cluster", identifier: "fraud-features" }).database,
            [{ ...record(1, "2", "3"), kind: "cluster" }],
            "3",
            "2026-11-28T09:00:00.000Z",
        );
    });

    it("passes a snapshot that is available and was taken when the version went live, and returns what RDS says of it", async () => {
        const snapshot = { status: "available", createdAt: hours(0.1) };
        await expect(checkRestorable(instancePlan, rdsBeforeRestore(snapshot))).resolves.toEqual(snapshot);
        // RDS may not report the time yet: nothing says it is late.
        await expect(checkRestorable(instancePlan, rdsBeforeRestore({ status: "available" }))).resolves.toEqual({ status: "available" });
    });

    it("refuses when the snapshot is gone from RDS, or is not available yet", async () => {
        await expect(checkRestorable(instancePlan, rdsBeforeRestore(undefined))).rejects.toThrow(
            new BadInputError(
                `--restore-database: snapshot ${instancePlan.snapshot.identifier} (taken when version 3 went live) is not in RDS any more; nothing was changed`,
            ),
        );
        await expect(checkRestorable(instancePlan, rdsBeforeRestore({ status: "creating" }))).rejects.toThrow(
            new BadInputError(
                `--restore-database: snapshot ${instancePlan.snapshot.identifier} is creating, not available; wait for it and run again (nothing was changed)`,
            ),
        );
    });

    it("refuses a snapshot RDS created more than 6 hours after the version went live: it holds later data", async () => {
        await expect(checkRestorable(instancePlan, rdsBeforeRestore({ status: "available", createdAt: hours(5) }))).resolves.toBeDefined();
        await expect(checkRestorable(instancePlan, rdsBeforeRestore({ status: "available", createdAt: hours(6) }))).resolves.toBeDefined();
        const late = new Date(hours(6).getTime() + 1);
        await expect(checkRestorable(instancePlan, rdsBeforeRestore({ status: "available", createdAt: late }))).rejects.toThrow(
            `was created ${late.toISOString()}, long after version 3 went live (${NOW}), so it does not hold the data of that moment`,
        );
    });

    it("refuses when the new database's name is taken; for a cluster, its writer's name too", async () => {
        const available = { status: "available", createdAt: hours(0) };
        // An instance has no writer: only its own name is asked for, and an instance named like a writer does not stand in the way.
        const instanceFree = rdsBeforeRestore(available, ["instance fraud-features-restore-202611280900-writer"]);
        await expect(checkRestorable(instancePlan, instanceFree)).resolves.toEqual(available);
        expect(instanceFree.asked).toEqual(["instance fraud-features-restore-202611280900"]);
        const instance = rdsBeforeRestore(available, ["instance fraud-features-restore-202611280900"]);
        await expect(checkRestorable(instancePlan, instance)).rejects.toThrow(
            new BadInputError(
                "--restore-database: a DB instance named fraud-features-restore-202611280900 already exists; wait a minute and run again (nothing was changed)",
            ),
        );
        const free = rdsBeforeRestore(available);
        await checkRestorable(clusterPlan, free);
        expect(free.asked).toEqual(["cluster fraud-features-restore-202611280900", "instance fraud-features-restore-202611280900-writer"]);
        await expect(checkRestorable(clusterPlan, rdsBeforeRestore(available, ["instance fraud-features-restore-202611280900-writer"]))).rejects.toThrow(
            "a DB instance named fraud-features-restore-202611280900-writer already exists",
        );
        await expect(checkRestorable(clusterPlan, rdsBeforeRestore(available, ["cluster fraud-features-restore-202611280900"]))).rejects.toThrow(
            "a DB cluster named fraud-features-restore-202611280900 already exists",
        );
    });
});

describe("what a restore says before it runs, and how it tags the new database", () => {
    let plan: RestorePlan;
    beforeEach(() => {
        plan = planRestore(config(EXTERNAL_DATABASE).database, [record(1, "2", "3")], "3", "2026-11-27T13:05:00.000Z");
    });

    it("names the snapshot, when it was taken, the new database, and how much data it leaves out", () => {
        const snapshot = { status: "available", createdAt: new Date("2026-11-27T12:35:00.000Z") };
        expect(describeRestore(plan, snapshot, new Date("2026-11-27T13:05:00.000Z"), "FEATURE_DB_HOST").split("\n")).toEqual([
            `Database: restores snapshot ${plan.snapshot.identifier} (taken 2026-11-27T12:35:00.000Z, when version 3 went live) into a new DB instance, fraud-features-restore-202611271305.`,
            "Traffic stays on version 3 until fraud-features-restore-202611271305 is available (minutes for a small database, longer for a large one); to move traffic first, roll back without --restore-database.",
            "Data written to fraud-features since then (the last 30 min) will not be in fraud-features-restore-202611271305; it stays in fraud-features, which is kept as it is, with its deletion protection, until you remove it.",
            "The model's FEATURE_DB_HOST will point at fraud-features-restore-202611271305 (on SageMaker that means new Models and endpoint configs: a new fleet, not a warm switch).",
        ]);
    });

    it("counts from when the version went live while RDS reports no time, never below 0 min, and says when the model is not told", () => {
        const text = describeRestore(plan, { status: "available" }, new Date("2026-11-27T13:34:56.789Z"), undefined);
        expect(text).toContain(`(taken ${NOW}, when version 3 went live)`);
        expect(text).toContain("(the last 60 min)");
        expect(text.split("\n").at(-1)).toBe(
            "mlops:database.addressEnv is not set, so the model is not told: point it at fraud-features-restore-202611271305 yourself.",
        );
        // A clock behind RDS's.
        expect(describeRestore(plan, { status: "available", createdAt: new Date("2026-11-27T14:00:00.000Z") }, new Date(NOW), undefined)).toContain(
            "(the last 0 min)",
        );
    });

    it("tags the restored database with where it came from, readable in the console without the stack", () => {
        expect(restoreTags(plan, "fraud-detector", "prod")).toEqual({
            "mlops:model": "fraud-detector",
            "mlops:stack": "prod",
            "mlops:restored-from-snapshot": plan.snapshot.identifier,
            "mlops:replaces-database": "fraud-features",
            "mlops:rolled-back-from-version": "3",
            "mlops:managed-by": "mlops-rollback",
        });
    });
});

describe("waiting for the restored database", () => {
    let plan: RestorePlan;
    beforeEach(() => {
        plan = planRestore(config(EXTERNAL_DATABASE).database, [record(1, "2", "3")], "3", NOW);
    });
    /** Stands for RDS: the new database's statuses, one per DescribeDBInstances. */
    function rdsAnswering(statuses: (string | undefined)[]): RdsPorts & { restored: number } {
        const ports = {
            restored: 0,
            describeSnapshot: () => Promise.resolve({ status: "available" }),
            describeDatabase: () => {
                const status = statuses.length > 1 ? statuses.shift() : statuses[0];
                return Promise.resolve(status === undefined ? undefined : { status, address: "restored.example" });
            },
            placementOf: () => Promise.resolve({ securityGroupIds: [], deletionProtection: true }),
            restore: () => {
                ports.restored += 1;
                return Promise.resolve();
            },
        };
        return ports;
    }
    const noSleep = { sleep: () => Promise.resolve(), pollSeconds: 30 };

    it("restores once, reports each wait and returns the address once available", async () => {
        const rds = rdsAnswering([undefined, "creating", "backing-up", "available"]);
        const waits: string[] = [];
        const state = await runRestore(plan, rds, {}, { ...noSleep, onWait: (status, waited) => waits.push(`${status}@${waited}`) });
        expect(state).toEqual({ status: "available", address: "restored.example" });
        expect(rds.restored).toBe(1);
        expect(waits).toEqual(["not visible yet@0", "creating@30", "backing-up@60"]);
    });

    it("stops on a failed restore, saying the new database is kept", async () => {
        await expect(runRestore(plan, rdsAnswering(["creating", "incompatible-restore"]), {}, noSleep)).rejects.toThrow(
            "ended incompatible-restore; it is kept for you to inspect",
        );
    });

    it("stops waiting after the timeout, saying how to finish once RDS is done", async () => {
        await expect(runRestore(plan, rdsAnswering(["creating"]), {}, { ...noSleep, timeoutSeconds: 90 })).rejects.toThrow(
            `still creating after 90 s; the restore goes on in RDS. Once it is available, add restoredInto: ${plan.restoredDatabase}`,
        );
    });

    it.each(["failed", "incompatible-restore", "incompatible-parameters", "incompatible-network", "inaccessible-encryption-credentials"])(
        "stops waiting when RDS reports %s, a state a restore does not leave",
        async (status) => {
            const rds = rdsAnswering(["creating", status]);
            await expect(runRestore(plan, rds, {}, noSleep)).rejects.toThrow(`ended ${status}; it is kept for you to inspect (deletion protection on)`);
        },
    );

    it("waits out the timeout to the second, and says so when the new database never showed up", async () => {
        const waits: number[] = [];
        await expect(
            runRestore(plan, rdsAnswering([undefined]), {}, { ...noSleep, timeoutSeconds: 90, onWait: (_, waited) => waits.push(waited) }),
        ).rejects.toThrow(`${plan.restoredDatabase} is still not visible after 90 s`);
        expect(waits).toEqual([0, 30, 60]);
    });

    it("polls RDS every 30 s unless told otherwise, on the real clock", async () => {
        vi.useFakeTimers();
        try {
            const waits: number[] = [];
            let done = false;
            const restore = runRestore(plan, rdsAnswering(["creating", "available"]), {}, { onWait: (_, waited) => waits.push(waited) }).then((state) => {
                done = true;
                return state;
            });
            await vi.advanceTimersByTimeAsync(29_999);
            expect(done).toBe(false);
            await vi.advanceTimersByTimeAsync(1);
            await expect(restore).resolves.toEqual({ status: "available", address: "restored.example" });
            expect(waits).toEqual([0]);
        } finally {
            vi.useRealTimers();
        }
    });

    it("sleeps pollSeconds between polls", async () => {
        const slept: number[] = [];
        const sleep = (milliseconds: number) => {
            slept.push(milliseconds);
            return Promise.resolve();
        };
        await runRestore(plan, rdsAnswering(["creating", "modifying", "available"]), {}, { sleep, pollSeconds: 5 });
        expect(slept).toEqual([5_000, 5_000]);
    });
});
