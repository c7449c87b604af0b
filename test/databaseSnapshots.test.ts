/**
 * Database snapshots tied to model versions: the ledger's pure functions,
 * the restore plan, and what the program declares under Pulumi's mock
 * runtime (standing for the engine and the AWS provider) — the snapshot
 * with its tags, the switch waiting on it, the managed database's safe
 * defaults — and that no rollback `mlops plan` shows replaces or deletes a
 * database or a snapshot.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { finalSnapshotIdentifier, SAFE_DATABASE_SETTINGS } from "../components/databaseSnapshots";
import { BadInputError } from "../config/badInput";
import { parseStackConfig, RDS_IDENTIFIER_PATTERN, VERSION_ID_PATTERN, type StackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { planRestore, restoredIdentifier, restoredWriterIdentifier, runRestore, type RdsPorts } from "../database/restore";
import {
    currentSnapshot,
    nextSnapshotLedger,
    snapshotHoldsSwitch,
    snapshotIdentifier,
    snapshotLedgerFromOutput,
    type SnapshotRecord,
} from "../database/snapshots";
import { recordProgram, type RegisteredResource } from "../plan/mockRuntime";
import { planPinChange } from "../plan/plan";
import { REPLACE_ON_CHANGE } from "../plan/replaceOnChange";
import { findChild, sagemakerRawConfig } from "./helpers";

const SNAPSHOT = "aws:rds/snapshot:Snapshot";
const CLUSTER_SNAPSHOT = "aws:rds/clusterSnapshot:ClusterSnapshot";
const NOW = "2026-11-27T12:34:56.789Z";
/** RDS snapshot identifiers: a letter first, then letters, digits and single hyphens, at most 255. */
const RDS_SNAPSHOT_ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

const EXTERNAL_DATABASE = { kind: "instance", identifier: "fraud-features", addressEnv: "FEATURE_DB_HOST" };
const MANAGED_INSTANCE = {
    kind: "instance",
    identifier: "fraud-features",
    manage: { engine: "postgres", instanceClass: "db.t4g.medium", allocatedStorageGiB: 50, backupRetentionDays: 14 },
};
const MANAGED_CLUSTER = { kind: "cluster", identifier: "fraud-features", manage: { engine: "aurora-postgresql", instanceClass: "db.r6g.large" } };

function config(database: Record<string, unknown>, overrides: Record<string, unknown> = {}): StackConfig {
    return parseStackConfig(sagemakerRawConfig({ database, ...overrides }));
}

/** A ledger record as the program writes it: the n-th snapshot of stack "test". */
const record = (sequence: number, from: string | null, to: string, at = NOW): SnapshotRecord => ({
    identifier: snapshotIdentifier("fraud-detector", "test", sequence, from, to),
    kind: "instance",
    database: "fraud-features",
    from,
    to,
    at,
});

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

    it("reads back only well-formed records from the stack's outputs", () => {
        const good = record(1, "2", "3");
        expect(snapshotLedgerFromOutput([good, { ...good, kind: "table" }, { identifier: "x" }, null, "text"])).toEqual([good]);
        expect(snapshotLedgerFromOutput(undefined)).toEqual([]);
    });
});

describe("the restore plan", () => {
    const ledger = [
        record(1, null, "2", "2026-11-01T00:00:00.000Z"),
        record(2, "2", "3", "2026-11-10T00:00:00.000Z"),
        record(3, "3", "2"),
        record(4, "2", "3"),
    ];

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
});

describe("waiting for the restored database", () => {
    const plan = planRestore(config(EXTERNAL_DATABASE).database, [record(1, "2", "3")], "3", NOW);
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
});

describe("DatabaseSnapshots under the mock runtime", () => {
    const urnOf = (resource: RegisteredResource) => `urn:pulumi:test::mlops::mlops:aws:DatabaseSnapshots$${resource.type}::${resource.name}`;
    const FORWARD_SNAPSHOT = "fraud-detector-database-snapshot-fraud-detector-test-2-v2-to-v3";
    const ROLLBACK_SNAPSHOT = "fraud-detector-database-snapshot-fraud-detector-test-3-v3-to-v2";
    let forward: RegisteredResource[];
    let rerun: RegisteredResource[];
    let rollback: RegisteredResource[];
    let kubernetesManaged: RegisteredResource[];
    let cluster: RegisteredResource[];

    beforeAll(async () => {
        // GIVEN a stack that deployed 2 (snapshotted when 2 went live) and now pins 3
        const external = config(EXTERNAL_DATABASE);
        const wentLive2 = [record(1, null, "2", "2026-11-01T00:00:00.000Z")];
        const deploying3 = nextSnapshotLedger(wentLive2, external, { pinned: "2" }, "test", NOW);
        forward = await recordProgram(external, "test", { snapshots: deploying3, now: NOW });
        // ... the same pin run again
        rerun = await recordProgram(external, "test", { snapshots: nextSnapshotLedger(deploying3.ledger, external, { pinned: "3" }, "test", NOW), now: NOW });
        // ... and one that rolls 3 back to 2
        const back = config(EXTERNAL_DATABASE, { pinned: "2" });
        rollback = await recordProgram(back, "test", { snapshots: nextSnapshotLedger(deploying3.ledger, back, { pinned: "3" }, "test", NOW), now: NOW });
        const kubernetes = parseStackConfig({ ...rawConfigFromStackFile("stacks/Pulumi.kubernetes-example.yaml"), database: MANAGED_INSTANCE });
        kubernetesManaged = await recordProgram(kubernetes, "test", { snapshots: nextSnapshotLedger([], kubernetes, { pinned: "2" }, "test", NOW), now: NOW });
        const aurora = config(MANAGED_CLUSTER);
        cluster = await recordProgram(aurora, "test", { snapshots: nextSnapshotLedger([], aurora, { pinned: "2" }, "test", NOW), now: NOW });
    }, 60_000);

    it("declares the snapshot of the pin change with the model, both versions and the stack in its tags, retained on delete", () => {
        const snapshot = findChild(forward, FORWARD_SNAPSHOT);
        expect(snapshot.type).toBe(SNAPSHOT);
        expect(snapshot.inputs).toEqual({
            dbInstanceIdentifier: "fraud-features",
            dbSnapshotIdentifier: "fraud-detector-test-2-v2-to-v3",
            tags: {
                "mlops:model": "fraud-detector",
                "mlops:stack": "test",
                "mlops:from-version": "2",
                "mlops:to-version": "3",
                "mlops:managed-by": "mlops-rollback",
            },
        });
        expect(snapshot.options).toMatchObject({
            retainOnDelete: true,
            parent: "urn:pulumi:test::mlops::mlops:aws:DatabaseSnapshots::fraud-detector-database",
            customTimeouts: { create: "120m", update: "" },
        });
    });

    it("declares only the current pin's snapshot: the earlier one has left the stack (retained in AWS)", () => {
        expect(forward.filter((r) => r.type === SNAPSHOT).map((r) => r.name)).toEqual([FORWARD_SNAPSHOT]);
    });

    it("keeps declaring the same snapshot, and takes no other, when the same pin runs again", () => {
        expect(rerun.filter((r) => r.type === SNAPSHOT).map((r) => r.name)).toEqual([FORWARD_SNAPSHOT]);
        expect(findChild(rerun, "fraud-detector-endpoint").options?.dependencies).not.toContain(urnOf(findChild(rerun, FORWARD_SNAPSHOT)));
    });

    it("makes the endpoint's switch wait for the snapshot when the pin moves forward", () => {
        expect(findChild(forward, "fraud-detector-endpoint").options?.dependencies).toContain(urnOf(findChild(forward, FORWARD_SNAPSHOT)));
    });

    it("takes a rollback's snapshot after the switch, so that it can never hold traffic on the bad version", () => {
        const snapshot = findChild(rollback, ROLLBACK_SNAPSHOT);
        expect(snapshot.inputs.tags).toMatchObject({ "mlops:from-version": "3", "mlops:to-version": "2" });
        const endpoint = findChild(rollback, "fraud-detector-endpoint");
        expect(endpoint.options?.dependencies).not.toContain(urnOf(snapshot));
        expect(snapshot.options?.dependencies).toContain(
            "urn:pulumi:test::mlops::mlops:sagemaker:ModelEndpoint$aws:sagemaker/endpoint:Endpoint::fraud-detector-endpoint",
        );
    });

    it("gives every version's container the database's address in mlops:database.addressEnv", () => {
        for (const name of ["fraud-detector-model-2", "fraud-detector-model-3"]) {
            const container = findChild(forward, name).inputs.primaryContainer as { environment: Record<string, string> };
            expect(container.environment.FEATURE_DB_HOST).toBe("fraud-features.mock.us-east-1.rds.amazonaws.com");
        }
    });

    it("on Kubernetes, makes the new version's Deployment and the Service's switch wait for the snapshot", () => {
        const snapshot = kubernetesManaged.find((r) => r.type === SNAPSHOT) as RegisteredResource;
        expect(findChild(kubernetesManaged, "fraud-detector-service").options?.dependencies).toContain(urnOf(snapshot));
        // Its pods may migrate the data as they start.
        expect(findChild(kubernetesManaged, "fraud-detector-deployment-3").options?.dependencies).toContain(urnOf(snapshot));
    });

    it("creates a managed instance protected, with deletion protection, encryption, kept backups and a unique final snapshot", () => {
        const instance = findChild(kubernetesManaged, "fraud-detector-database-instance");
        expect(instance.type).toBe("aws:rds/instance:Instance");
        expect(instance.inputs).toMatchObject({
            identifier: "fraud-features",
            engine: "postgres",
            allocatedStorage: 50,
            backupRetentionPeriod: 14,
            publiclyAccessible: false,
            finalSnapshotIdentifier: "fraud-features-final-20261127123456",
            ...SAFE_DATABASE_SETTINGS,
        });
        expect(SAFE_DATABASE_SETTINGS).toMatchObject({
            deletionProtection: true,
            skipFinalSnapshot: false,
            deleteAutomatedBackups: false,
            storageEncrypted: true,
        });
        expect(instance.options).toMatchObject({ protect: true, retainOnDelete: true });
        // The snapshot of a database created here waits for it (the stack's first deploy).
        const snapshot = kubernetesManaged.find((r) => r.type === SNAPSHOT) as RegisteredResource;
        expect(snapshot.options?.dependencies).toContain(
            "urn:pulumi:test::mlops::mlops:aws:DatabaseSnapshots$aws:rds/instance:Instance::fraud-detector-database-instance",
        );
    });

    it("creates a managed Aurora cluster and its writer protected, and snapshots the cluster", () => {
        const auroraCluster = findChild(cluster, "fraud-detector-database-cluster");
        expect(auroraCluster.inputs).toMatchObject({
            clusterIdentifier: "fraud-features",
            engine: "aurora-postgresql",
            backupRetentionPeriod: 7,
            ...SAFE_DATABASE_SETTINGS,
        });
        expect(auroraCluster.options).toMatchObject({ protect: true, retainOnDelete: true });
        expect(findChild(cluster, "fraud-detector-database-writer").inputs).toMatchObject({ identifier: "fraud-features-writer", publiclyAccessible: false });
        expect(findChild(cluster, "fraud-detector-database-writer").options).toMatchObject({ protect: true, retainOnDelete: true });
        const snapshot = cluster.find((r) => r.type === CLUSTER_SNAPSHOT) as RegisteredResource;
        expect(snapshot.inputs).toMatchObject({ dbClusterIdentifier: "fraud-features", dbClusterSnapshotIdentifier: "fraud-detector-test-1-v2-to-v3" });
        expect(snapshot.options?.retainOnDelete).toBe(true);
    });

    it("names a final snapshot after the database and its creation time", () => {
        expect(finalSnapshotIdentifier("fraud-features", NOW)).toBe("fraud-features-final-20261127123456");
    });

    it("knows how every RDS type it declares is replaced, for mlops plan", () => {
        const types = new Set([...forward, ...kubernetesManaged, ...cluster].map((r) => r.type).filter((type) => type.startsWith("aws:rds/")));
        expect([...types].sort()).toEqual([
            "aws:rds/cluster:Cluster",
            "aws:rds/clusterInstance:ClusterInstance",
            "aws:rds/clusterSnapshot:ClusterSnapshot",
            "aws:rds/instance:Instance",
            "aws:rds/snapshot:Snapshot",
        ]);
        for (const type of types) expect(REPLACE_ON_CHANGE[type], type).toBeDefined();
    });
});

describe("mlops plan: no rollback path replaces or deletes a database, or deletes a snapshot from AWS", () => {
    const cases = [
        { name: "SageMaker, database managed elsewhere", raw: sagemakerRawConfig({ database: EXTERNAL_DATABASE, warm: 1 }) },
        { name: "SageMaker, managed instance", raw: sagemakerRawConfig({ database: MANAGED_INSTANCE, warm: 1 }) },
        {
            name: "Kubernetes, managed Aurora cluster",
            raw: { ...rawConfigFromStackFile("stacks/Pulumi.kubernetes-example.yaml"), database: MANAGED_CLUSTER },
        },
    ];
    for (const { name, raw } of cases) {
        it(`${name}: every rollback target, warm or cold`, async () => {
            const current = parseStackConfig(raw);
            const order = current.versions.map((v) => v.version);
            const targets = order.slice(0, order.indexOf(current.pinned));
            expect(targets.length).toBeGreaterThanOrEqual(2);
            for (const to of targets) {
                const plan = await planPinChange(raw, to);
                const snapshotType = current.database?.kind === "cluster" ? CLUSTER_SNAPSHOT : SNAPSHOT;
                const database = plan.operations.filter((o) => o.type.startsWith("aws:rds/"));
                // Nothing happens to the database itself.
                expect(
                    database.filter((o) => o.type !== snapshotType),
                    `rollback to ${to}`,
                ).toEqual([]);
                // The rollback takes a snapshot, and the previous pin's leaves the stack but stays in AWS.
                expect(database.map((o) => [o.op, o.retained === true])).toEqual([
                    ["delete", true],
                    ["create", false],
                ]);
            }
        }, 120_000);
    }
});
