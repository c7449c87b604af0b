/**
 * `mlops rollback --restore-database` against emulated RDS (moto on
 * loopback), through the real AWS SDK client. Every check reads RDS back
 * (DescribeDBInstances, DescribeDBClusters, DescribeDBSnapshots), never the
 * flow's own report alone.
 *
 * Two layers stand in for what cannot run here: the snapshots the program's
 * `aws.rds.Snapshot` resources take are seeded with CreateDBSnapshot (the
 * Pulumi AWS provider cannot be built on this machine), and the engine is
 * `FakeStack`, whose outputs carry the snapshot ledger a deployed stack has.
 */
import {
    CreateDBClusterCommand,
    CreateDBClusterSnapshotCommand,
    CreateDBInstanceCommand,
    CreateDBSnapshotCommand,
    DeleteDBSnapshotCommand,
    DescribeDBClustersCommand,
    DescribeDBClusterSnapshotsCommand,
    DescribeDBInstancesCommand,
    DescribeDBSnapshotsCommand,
    RDSClient,
} from "@aws-sdk/client-rds";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OperationFailedError, runPinChange, type PinChangeDeps, type PinChangeOptions } from "../cli/pinChange";
import { BadInputError } from "../config/badInput";
import { StackBusyError } from "../rollback/automation";
import { awsRdsPorts } from "../database/rdsPorts";
import { restoredIdentifier, restoredWriterIdentifier } from "../database/restore";
import { snapshotIdentifier, type SnapshotRecord } from "../database/snapshots";
import { motoPythonForTests, motoClientOptions, startMoto, type MotoServer } from "../test-aws/motoServer";
import { FakeStack } from "./fixtures/fakeStack";

const motoPython = motoPythonForTests("database restore tests");

const ROOT = path.resolve(__dirname, "..");
const DATABASE = "fraud-features";
const NOW = new Date("2026-11-27T13:05:00.000Z");
const RESTORED = "fraud-features-restore-202611271305";

/** What the stack recorded when 2, then 3, went live. */
function ledgerOf(kind: SnapshotRecord["kind"]): SnapshotRecord[] {
    const record = (sequence: number, from: string | null, to: string, at: string): SnapshotRecord => ({
        identifier: snapshotIdentifier("fraud-detector", "prod", sequence, from, to),
        kind,
        database: DATABASE,
        from,
        to,
        at,
    });
    // When they went live: just before the snapshots the test seeds (RDS stamps them with the real time).
    const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
    return [record(1, null, "2", minutesAgo(90)), record(2, "2", "3", minutesAgo(30))];
}

describe.skipIf(motoPython === undefined)("mlops rollback --restore-database against moto", () => {
    let server: MotoServer;
    let rds: RDSClient;
    let projectDir: string;
    let file: string;
    let stack: FakeStack;
    let stderr: string;
    let now: Date;

    beforeAll(async () => {
        server = await startMoto(motoPython as string);
        rds = new RDSClient(motoClientOptions(server));
    }, 60_000);
    afterAll(async () => server?.stop());

    beforeEach(async () => {
        await server.reset();
        projectDir = mkdtempSync(path.join(tmpdir(), "mlops-restore-"));
        mkdirSync(path.join(projectDir, "stacks"));
        copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(projectDir, "Pulumi.yaml"));
        file = path.join(projectDir, "stacks", "Pulumi.prod.yaml");
        copyFileSync(path.join(ROOT, "stacks", "Pulumi.sagemaker-example.yaml"), file);
        stack = new FakeStack("prod", file);
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "3", databaseSnapshots: ledgerOf("instance") };
        stderr = "";
        now = NOW;
    });

    function deps(): PinChangeDeps {
        return {
            openStack: () => Promise.resolve(stack),
            // Stands for the SageMaker check of what serves (not under test here).
            verifierFor: () => ({ verify: () => Promise.resolve({ ok: true, detail: "the endpoint serves version 2" }) }),
            notify: () => Promise.resolve(),
            stdout: () => undefined,
            stderr: (text) => (stderr += text),
            now: () => now,
            sleep: () => Promise.resolve(),
            rds: () => awsRdsPorts(motoClientOptions(server)),
        };
    }
    const options = (extra: Partial<PinChangeOptions> = {}): PinChangeOptions => ({
        stack: "prod",
        file,
        projectDir,
        yes: true,
        version: "2",
        restoreDatabase: true,
        ...extra,
    });

    async function seedInstanceWithSnapshots(): Promise<void> {
        await rds.send(
            new CreateDBInstanceCommand({
                DBInstanceIdentifier: DATABASE,
                Engine: "postgres",
                DBInstanceClass: "db.t4g.medium",
                AllocatedStorage: 20,
                MasterUsername: "mlops",
                MasterUserPassword: "not-a-secret-1",
                VpcSecurityGroupIds: ["sg-0123456789abcdef0"],
                DeletionProtection: true,
            }),
        );
        for (const record of ledgerOf("instance")) {
            await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: DATABASE, DBSnapshotIdentifier: record.identifier }));
        }
    }

    const instances = async () => (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
    // Manual snapshots only: moto, like RDS, also keeps automated ones (`rds:...`) of every instance, the restored one included.
    const snapshotIds = async () =>
        ((await rds.send(new DescribeDBSnapshotsCommand({ SnapshotType: "manual" }))).DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier).sort();
    const stackFileConfig = () => (parseYaml(readFileSync(file, "utf8")) as { config: Record<string, unknown> }).config;

    it("restores the snapshot taken when 3 went live into a new instance, and keeps the original and every snapshot", async () => {
        // GIVEN the feature database and the snapshots taken when 2 and 3 went live
        await seedInstanceWithSnapshots();
        const originalBefore = (await instances()).find((i) => i.DBInstanceIdentifier === DATABASE);
        const snapshotsBefore = await snapshotIds();

        // WHEN rolling back 3 -> 2 with --restore-database
        const result = await runPinChange("rollback", options(), deps());

        // THEN RDS has a new instance, restored from the v3 snapshot, as protected as the original
        const restored = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: RESTORED }))).DBInstances?.[0];
        expect(restored?.DBInstanceStatus).toBe("available");
        expect(restored?.DeletionProtection).toBe(true);
        // (PubliclyAccessible: false is sent too; moto does not report it back.)
        expect(restored?.DBInstanceClass).toBe("db.t4g.medium");
        expect(restored?.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId)).toEqual(["sg-0123456789abcdef0"]);
        expect(restored?.TagList).toEqual(
            expect.arrayContaining([
                { Key: "mlops:restored-from-snapshot", Value: ledgerOf("instance")[1].identifier },
                { Key: "mlops:replaces-database", Value: DATABASE },
                { Key: "mlops:rolled-back-from-version", Value: "3" },
            ]),
        );
        // ... and the original instance and every snapshot are as they were
        const originalAfter = (await instances()).find((i) => i.DBInstanceIdentifier === DATABASE);
        // (LatestRestorableTime moves on by itself: RDS's clock, not a change.)
        const settled = (instance: typeof originalBefore) => ({ ...instance, LatestRestorableTime: undefined });
        expect(settled(originalAfter)).toEqual(settled(originalBefore));
        expect(originalAfter?.DeletionProtection).toBe(true);
        expect(await snapshotIds()).toEqual(snapshotsBefore);
        expect(snapshotsBefore).toHaveLength(2);
        // ... the stack file pins 2 and records the restore, and the update ran with both
        expect(stackFileConfig()["mlops:pinned"]).toBe("2");
        expect(stackFileConfig()["mlops:database"]).toEqual({ kind: "instance", identifier: DATABASE, addressEnv: "FEATURE_DB_HOST", restoredInto: RESTORED });
        expect(stack.calls.map((c) => c.op)).toEqual(["up"]);
        expect(stack.calls[0].fileText).toContain(`restoredInto: "${RESTORED}"`);
        expect(result).toMatchObject({
            result: "succeeded",
            database: { restoredInto: RESTORED, replaced: DATABASE, snapshot: ledgerOf("instance")[1].identifier },
        });
        expect(stderr).toContain(`${RESTORED} is available at ${RESTORED}.`);
    });

    it("says on a dry run which snapshot, from when, and what it will not have, and creates nothing", async () => {
        await seedInstanceWithSnapshots();
        const fileBefore = readFileSync(file, "utf8");
        // 45 minutes after the snapshot was taken (RDS stamps it with the real time).
        now = new Date(Date.now() + 45 * 60_000);
        const restored = restoredIdentifier(DATABASE, now.toISOString(), "instance");

        const result = await runPinChange("rollback", options({ dryRun: true }), deps());

        expect(result.result).toBe("previewed");
        expect(stderr).toContain(`restores snapshot ${ledgerOf("instance")[1].identifier} (taken `);
        expect(stderr).toContain(`when version 3 went live) into a new DB instance, ${restored}.`);
        expect(stderr).toContain(`Data written to fraud-features since then (the last 45 min) will not be in ${restored}`);
        expect(stderr).toContain(`Traffic stays on version 3 until ${restored} is available`);
        expect(stderr).toContain(`FEATURE_DB_HOST will point at ${restored}`);
        expect((await instances()).map((i) => i.DBInstanceIdentifier)).toEqual([DATABASE]);
        expect(readFileSync(file, "utf8")).toBe(fileBefore);
        // The preview ran with the pin change only: the restored database does not exist yet.
        expect(stack.calls.map((c) => c.op)).toEqual(["preview"]);
        expect(stack.calls[0].fileText).not.toContain("restoredInto");
    });

    it("refuses (exit 2), creating nothing, when the snapshot is no longer in RDS", async () => {
        await seedInstanceWithSnapshots();
        await rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: ledgerOf("instance")[1].identifier }));
        const fileBefore = readFileSync(file, "utf8");

        const error = await runPinChange("rollback", options(), deps()).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toContain(`snapshot ${ledgerOf("instance")[1].identifier} (taken when version 3 went live) is not in RDS any more`);
        expect((await instances()).map((i) => i.DBInstanceIdentifier)).toEqual([DATABASE]);
        expect(readFileSync(file, "utf8")).toBe(fileBefore);
        expect(stack.calls).toEqual([]);
    });

    it("refuses (exit 2), naming the version, when the stack took no snapshot when it went live", async () => {
        await seedInstanceWithSnapshots();
        stack.outputsAfterUp = { ...stack.outputsAfterUp, databaseSnapshots: ledgerOf("instance").slice(0, 1) };

        const error = await runPinChange("rollback", options(), deps()).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toContain("no snapshot from when version 3 went live (it has snapshots for version 2)");
        expect((await instances()).map((i) => i.DBInstanceIdentifier)).toEqual([DATABASE]);
    });

    it("reports a failed restore as a failure (exit 1) with the stack file unchanged and nothing deleted", async () => {
        await seedInstanceWithSnapshots();
        const fileBefore = readFileSync(file, "utf8");
        // RDS refuses the first call of the restore itself (a role without rds:DescribeDBInstances on the original, say).
        const ports = awsRdsPorts(motoClientOptions(server));
        const refusing = { ...ports, placementOf: () => Promise.reject(new Error("AccessDenied: rds:DescribeDBInstances")) };

        const error = await runPinChange("rollback", options(), { ...deps(), rds: () => refusing }).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(OperationFailedError);
        expect((error as Error).message).toContain("the database restore failed, so the rollback did not run: AccessDenied");
        expect(readFileSync(file, "utf8")).toBe(fileBefore);
        expect(stack.calls).toEqual([]);
        expect(await snapshotIds()).toHaveLength(2);
        expect((await instances()).map((i) => i.DBInstanceIdentifier)).toEqual([DATABASE]);
    });

    it("refuses (exit 2) a snapshot RDS created long after its version went live: taken again, it holds later data", async () => {
        await seedInstanceWithSnapshots();
        const [first, second] = ledgerOf("instance");
        stack.outputsAfterUp = { ...stack.outputsAfterUp, databaseSnapshots: [first, { ...second, at: "2026-11-20T10:00:00.000Z" }] };

        const error = await runPinChange("rollback", options(), deps()).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toContain("long after version 3 went live (2026-11-20T10:00:00.000Z)");
        expect((await instances()).map((i) => i.DBInstanceIdentifier)).toEqual([DATABASE]);
        expect(stack.calls).toEqual([]);
    });

    it("keeps what a restore that failed half-way created, and leaves the original, the snapshots and the stack file alone (exit 1)", async () => {
        await seedInstanceWithSnapshots();
        const fileBefore = readFileSync(file, "utf8");
        // RDS accepts the restore, then the next call fails (throttling, a dropped connection).
        const ports = awsRdsPorts(motoClientOptions(server));
        const failingAfterRestore = {
            ...ports,
            restore: async (...args: Parameters<typeof ports.restore>) => {
                await ports.restore(...args);
                throw new Error("ThrottlingException: Rate exceeded");
            },
        };

        const error = await runPinChange("rollback", options(), { ...deps(), rds: () => failingAfterRestore }).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(OperationFailedError);
        expect((error as Error).message).toContain(`if RDS got as far as creating ${RESTORED}, it is kept for you to inspect`);
        expect((await instances()).map((i) => i.DBInstanceIdentifier).sort()).toEqual([DATABASE, RESTORED]);
        expect(await snapshotIds()).toHaveLength(2);
        expect(readFileSync(file, "utf8")).toBe(fileBefore);
        expect(stack.calls).toEqual([]);
    });

    it("keeps the pin and restoredInto in the stack file when another update holds the stack once the restore is done (exit 1)", async () => {
        await seedInstanceWithSnapshots();
        stack.upError = new StackBusyError("the stack is locked by ci@runner-7");

        const error = await runPinChange("rollback", options(), deps()).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(OperationFailedError);
        expect((error as Error).message).toContain(`The database was already restored into ${RESTORED}`);
        expect((error as Error).message).toContain("run pulumi up --stack prod to finish");
        expect(stackFileConfig()["mlops:pinned"]).toBe("2");
        expect((stackFileConfig()["mlops:database"] as { restoredInto?: string }).restoredInto).toBe(RESTORED);
    });

    it("restores an Aurora cluster snapshot into a new cluster with a writer, and keeps the original cluster", async () => {
        // GIVEN an Aurora cluster with its writer and the cluster snapshots of 2 and 3
        writeFileSync(file, readFileSync(file, "utf8").replace("    kind: instance\n", "    kind: cluster\n"));
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "3", databaseSnapshots: ledgerOf("cluster") };
        await rds.send(
            new CreateDBClusterCommand({
                DBClusterIdentifier: DATABASE,
                Engine: "aurora-postgresql",
                MasterUsername: "mlops",
                MasterUserPassword: "not-a-secret-1",
                DeletionProtection: true,
            }),
        );
        await rds.send(
            new CreateDBInstanceCommand({
                DBInstanceIdentifier: `${DATABASE}-writer`,
                DBClusterIdentifier: DATABASE,
                Engine: "aurora-postgresql",
                DBInstanceClass: "db.r6g.large",
            }),
        );
        for (const record of ledgerOf("cluster")) {
            await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: DATABASE, DBClusterSnapshotIdentifier: record.identifier }));
        }

        await runPinChange("rollback", options(), deps());

        const clusters = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters ?? [];
        expect(clusters.map((c) => c.DBClusterIdentifier).sort()).toEqual([DATABASE, RESTORED]);
        expect(clusters.find((c) => c.DBClusterIdentifier === RESTORED)?.DeletionProtection).toBe(true);
        const writer = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: restoredWriterIdentifier(RESTORED) }))).DBInstances?.[0];
        expect(writer).toMatchObject({ DBClusterIdentifier: RESTORED, DBInstanceClass: "db.r6g.large", DBInstanceStatus: "available" });
        expect(clusters.find((c) => c.DBClusterIdentifier === DATABASE)?.DeletionProtection).toBe(true);
        const snapshots = (await rds.send(new DescribeDBClusterSnapshotsCommand({ SnapshotType: "manual" }))).DBClusterSnapshots ?? [];
        expect(snapshots.map((s) => s.DBClusterSnapshotIdentifier).sort()).toEqual(
            ledgerOf("cluster")
                .map((r) => r.identifier)
                .sort(),
        );
        expect((stackFileConfig()["mlops:database"] as { restoredInto?: string }).restoredInto).toBe(RESTORED);
    });
});
