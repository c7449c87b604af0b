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
import { planRestore, restoredIdentifier } from "../database/restore";
import { nextSnapshotLedger, snapshotHoldsSwitch, snapshotIdentifier, snapshotLedgerFromOutput, type SnapshotRecord } from "../database/snapshots";
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

const record = (from: string | null, to: string, at = NOW): SnapshotRecord => ({
    identifier: snapshotIdentifier("fraud-detector", from, to, at),
    kind: "instance",
    database: "fraud-features",
    from,
    to,
    at,
});

describe("the snapshot ledger", () => {
    it("takes a snapshot when the pin changes, named and recorded with both versions", () => {
        const previous = [record(null, "2", "2026-11-01T00:00:00.000Z")];
        const { ledger, taken } = nextSnapshotLedger(previous, config(EXTERNAL_DATABASE), "2", NOW);
        expect(taken).toEqual({
            identifier: "fraud-detector-v2-to-v3-20261127123456",
            kind: "instance",
            database: "fraud-features",
            from: "2",
            to: "3",
            at: NOW,
        });
        expect(ledger).toEqual([...previous, taken]);
    });

    it("takes no new snapshot when the same pin runs again", () => {
        const previous = [record("2", "3")];
        expect(nextSnapshotLedger(previous, config(EXTERNAL_DATABASE), "3", "2026-11-28T00:00:00.000Z")).toEqual({ ledger: previous });
    });

    it("snapshots before the stack's first deploy, from no version", () => {
        const { taken } = nextSnapshotLedger([], config(EXTERNAL_DATABASE), null, NOW);
        expect(taken).toMatchObject({ identifier: "fraud-detector-initial-to-v3-20261127123456", from: null, to: "3" });
    });

    it("snapshots the restored database once mlops:database.restoredInto names one", () => {
        const restored = config({ ...EXTERNAL_DATABASE, restoredInto: "fraud-features-restore-202611271300" }, { pinned: "2" });
        expect(nextSnapshotLedger([], restored, "3", NOW).taken?.database).toBe("fraud-features-restore-202611271300");
    });

    it("takes nothing without mlops:database", () => {
        expect(nextSnapshotLedger([], parseStackConfig(sagemakerRawConfig()), "2", NOW)).toEqual({ ledger: [] });
    });

    it("holds the switch for a move forward and the first deploy, not for a rollback", () => {
        const versions = [{ version: "1" }, { version: "2" }, { version: "3" }];
        expect(snapshotHoldsSwitch(record("2", "3"), versions)).toBe(true);
        expect(snapshotHoldsSwitch(record(null, "3"), versions)).toBe(true);
        expect(snapshotHoldsSwitch(record("3", "2"), versions)).toBe(false);
    });

    it("names every snapshot validly for RDS, whatever the version ids", () => {
        const versionId = fc.stringMatching(VERSION_ID_PATTERN);
        fc.assert(
            fc.property(
                fc.option(versionId, { nil: null }),
                versionId,
                fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }),
                (from, to, at) => {
                    const identifier = snapshotIdentifier("fraud-detector", from, to, at.toISOString());
                    expect(identifier).toMatch(RDS_SNAPSHOT_ID);
                    expect(identifier.length).toBeLessThanOrEqual(255);
                },
            ),
        );
    });

    it("reads back only well-formed records from the stack's outputs", () => {
        const good = record("2", "3");
        expect(snapshotLedgerFromOutput([good, { ...good, kind: "table" }, { identifier: "x" }, null, "text"])).toEqual([good]);
        expect(snapshotLedgerFromOutput(undefined)).toEqual([]);
    });
});

describe("the restore plan", () => {
    const ledger = [record(null, "2", "2026-11-01T00:00:00.000Z"), record("2", "3", "2026-11-10T00:00:00.000Z"), record("3", "2"), record("2", "3")];

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
            planRestore(config(EXTERNAL_DATABASE).database, [record(null, "2")], "3", NOW);
        } catch (caught) {
            error = caught;
        }
        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toContain("no snapshot from when version 3 went live (it has snapshots for version 2)");
    });

    it("refuses without mlops:database", () => {
        expect(() => planRestore(undefined, ledger, "3", NOW)).toThrow(/no mlops:database section/);
    });

    it("keeps restored names within RDS's 63 characters, valid, and named after the original on a second restore", () => {
        const long = `a${"-b".repeat(31)}`;
        const name = restoredIdentifier(long, NOW);
        expect(name.length).toBeLessThanOrEqual(63);
        expect(name).toMatch(RDS_IDENTIFIER_PATTERN);
        const again = planRestore(config({ ...EXTERNAL_DATABASE, restoredInto: "fraud-features-restore-202611010000" }).database, ledger, "3", NOW);
        expect(again.replacedDatabase).toBe("fraud-features-restore-202611010000");
        expect(again.restoredDatabase).toBe("fraud-features-restore-202611271234");
    });
});

describe("DatabaseSnapshots under the mock runtime", () => {
    const urnOf = (resource: RegisteredResource) => `urn:pulumi:test::mlops::mlops:aws:DatabaseSnapshots$${resource.type}::${resource.name}`;
    let forward: RegisteredResource[];
    let rollback: RegisteredResource[];
    let kubernetesManaged: RegisteredResource[];
    let cluster: RegisteredResource[];

    beforeAll(async () => {
        // GIVEN a stack that deployed 2 (snapshotted when 2 went live) and now pins 3
        const external = config(EXTERNAL_DATABASE);
        const wentLive2 = [record(null, "2", "2026-11-01T00:00:00.000Z")];
        forward = await recordProgram(external, "test", { snapshots: nextSnapshotLedger(wentLive2, external, "2", NOW), now: NOW });
        // ... and one that rolls 3 back to 2
        const back = config(EXTERNAL_DATABASE, { pinned: "2" });
        rollback = await recordProgram(back, "test", { snapshots: nextSnapshotLedger([...wentLive2, record("2", "3")], back, "3", NOW), now: NOW });
        const kubernetes = parseStackConfig({ ...rawConfigFromStackFile("stacks/Pulumi.kubernetes-example.yaml"), database: MANAGED_INSTANCE });
        kubernetesManaged = await recordProgram(kubernetes, "test", { snapshots: nextSnapshotLedger([], kubernetes, "2", NOW), now: NOW });
        const aurora = config(MANAGED_CLUSTER);
        cluster = await recordProgram(aurora, "test", { snapshots: nextSnapshotLedger([], aurora, "2", NOW), now: NOW });
    }, 60_000);

    it("declares the snapshot of the pin change with the model, both versions and the stack in its tags, retained on delete", () => {
        const snapshot = findChild(forward, "fraud-detector-database-snapshot-fraud-detector-v2-to-v3-20261127123456");
        expect(snapshot.type).toBe(SNAPSHOT);
        expect(snapshot.inputs).toEqual({
            dbInstanceIdentifier: "fraud-features",
            dbSnapshotIdentifier: "fraud-detector-v2-to-v3-20261127123456",
            tags: {
                "mlops:model": "fraud-detector",
                "mlops:stack": "test",
                "mlops:from-version": "2",
                "mlops:to-version": "3",
                "mlops:managed-by": "mlops-rollback",
            },
        });
        expect(snapshot.options?.retainOnDelete).toBe(true);
        expect(snapshot.options?.parent).toBe("urn:pulumi:test::mlops::mlops:aws:DatabaseSnapshots::fraud-detector-database");
    });

    it("keeps declaring every earlier snapshot of the ledger", () => {
        expect(forward.filter((r) => r.type === SNAPSHOT).map((r) => r.inputs.dbSnapshotIdentifier)).toEqual([
            "fraud-detector-initial-to-v2-20261101000000",
            "fraud-detector-v2-to-v3-20261127123456",
        ]);
    });

    it("makes the endpoint's switch wait for the snapshot when the pin moves forward", () => {
        const snapshot = findChild(forward, "fraud-detector-database-snapshot-fraud-detector-v2-to-v3-20261127123456");
        expect(findChild(forward, "fraud-detector-endpoint").options?.dependencies).toContain(urnOf(snapshot));
    });

    it("does not make a rollback wait for its snapshot, which is taken alongside", () => {
        const snapshot = findChild(rollback, "fraud-detector-database-snapshot-fraud-detector-v3-to-v2-20261127123456");
        expect(snapshot.inputs.tags).toMatchObject({ "mlops:from-version": "3", "mlops:to-version": "2" });
        expect(findChild(rollback, "fraud-detector-endpoint").options?.dependencies).not.toContain(urnOf(snapshot));
    });

    it("gives every version's container the database's address in mlops:database.addressEnv", () => {
        for (const name of ["fraud-detector-model-2", "fraud-detector-model-3"]) {
            const container = findChild(forward, name).inputs.primaryContainer as { environment: Record<string, string> };
            expect(container.environment.FEATURE_DB_HOST).toBe("fraud-features.mock.us-east-1.rds.amazonaws.com");
        }
    });

    it("makes a Kubernetes Service's switch wait for the snapshot", () => {
        const snapshot = kubernetesManaged.find((r) => r.type === SNAPSHOT) as RegisteredResource;
        expect(findChild(kubernetesManaged, "fraud-detector-service").options?.dependencies).toContain(urnOf(snapshot));
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
        expect(findChild(cluster, "fraud-detector-database-writer").options?.protect).toBe(true);
        const snapshot = cluster.find((r) => r.type === CLUSTER_SNAPSHOT) as RegisteredResource;
        expect(snapshot.inputs).toMatchObject({ dbClusterIdentifier: "fraud-features", dbClusterSnapshotIdentifier: "fraud-detector-v2-to-v3-20261127123456" });
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

describe("mlops plan: no rollback path replaces or deletes a database or a snapshot", () => {
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
                const database = plan.operations.filter((o) => o.type.startsWith("aws:rds/"));
                expect(
                    database.filter((o) => o.op !== "create"),
                    `rollback to ${to}`,
                ).toEqual([]);
                // The one create is the snapshot the rollback takes alongside.
                expect(database.map((o) => o.type)).toEqual([current.database?.kind === "cluster" ? CLUSTER_SNAPSHOT : SNAPSHOT]);
            }
        }, 120_000);
    }
});
