/**
 * Database snapshots tied to model versions, as the program declares them
 * under Pulumi's mock runtime (standing for the engine and the AWS
 * provider): the snapshot with its tags, the switch waiting on it, the
 * managed database's safe defaults; and that no rollback `mlops plan` shows
 * replaces or deletes a database or a snapshot. The ledger's pure functions
 * and the restore plan are in databaseSnapshots.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { finalSnapshotIdentifier, SAFE_DATABASE_SETTINGS } from "../components/databaseSnapshots";
import { parseStackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { nextSnapshotLedger } from "../database/snapshots";
import { recordProgram, type RegisteredResource } from "../plan/mockRuntime";
import { planPinChange } from "../plan/plan";
import { REPLACE_ON_CHANGE } from "../plan/replaceOnChange";
import { findChild, sagemakerRawConfig } from "./helpers";
import { configWithDatabase as config, EXTERNAL_DATABASE, NOW, snapshotRecord as record } from "./fixtures/databaseSnapshots";

const SNAPSHOT = "aws:rds/snapshot:Snapshot";
const CLUSTER_SNAPSHOT = "aws:rds/clusterSnapshot:ClusterSnapshot";

const MANAGED_INSTANCE = {
    kind: "instance",
    identifier: "fraud-features",
    manage: { engine: "postgres", instanceClass: "db.t4g.medium", allocatedStorageGiB: 50, backupRetentionDays: 14 },
};
const MANAGED_CLUSTER = { kind: "cluster", identifier: "fraud-features", manage: { engine: "aurora-postgresql", instanceClass: "db.r6g.large" } };

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
