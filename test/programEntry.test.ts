import { execFile } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { rawConfigFromStackFile } from "../config/sources";

const ROOT = path.resolve(__dirname, "..");
const FIXTURE = path.join(ROOT, "test", "fixtures", "runIndexUnderMocks.ts");

/** Encode raw config the way the Pulumi engine does in PULUMI_CONFIG: strings as they are, everything else as JSON. */
function engineConfig(raw: Record<string, unknown>): string {
    return JSON.stringify(
        Object.fromEntries(Object.entries(raw).map(([key, value]) => [`mlops:${key}`, typeof value === "string" ? value : JSON.stringify(value)])),
    );
}

/** Run index.ts in its own process (the mock runtime and the config store are process-global). */
function runIndex(pulumiConfig: string, previousOutputs: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            ["--require", require.resolve("tsx/cjs"), FIXTURE],
            {
                cwd: ROOT,
                env: { ...process.env, PULUMI_CONFIG: pulumiConfig, MLOPS_TEST_PREVIOUS_OUTPUTS: JSON.stringify(previousOutputs), ...env },
                timeout: 60_000,
            },
            (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(JSON.parse(stdout) as Record<string, unknown>)),
        );
    });
}

/** The example's database snapshot from when 3 went live, as a deployed stack's outputs hold it. */
const WENT_LIVE_3 = {
    identifier: "fraud-detector-entry-1-v2-to-v3",
    kind: "instance",
    database: "fraud-features",
    from: "2",
    to: "3",
    at: "2026-11-20T10:00:00.000Z",
};

describe("index.ts, the program the engine runs", () => {
    it("reads the example stack's config as the engine passes it and declares the warm versions", async () => {
        const deployed = { pinnedVersion: "3", databaseSnapshots: [WENT_LIVE_3] };
        const result = await runIndex(engineConfig(rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml")), deployed);
        expect(result).toEqual({
            names: [
                "fraud-detector-alarms-5xx-rate",
                "fraud-detector-alarms-latency-p99",
                "fraud-detector-alarms-rollback",
                "fraud-detector-alarms-topic",
                "fraud-detector-alarms-topic-key",
                "fraud-detector-config-2",
                "fraud-detector-config-3",
                "fraud-detector-database-snapshot-fraud-detector-entry-1-v2-to-v3",
                "fraud-detector-endpoint",
                "fraud-detector-model-2",
                "fraud-detector-model-3",
                "fraud-detector-role",
                "fraud-detector-role-policy",
                "fraud-detector-storage-key",
                "fraud-detector-trigger-build-invoke",
                "fraud-detector-trigger-build-rule",
                "fraud-detector-trigger-build-target",
                "fraud-detector-trigger-dlq",
                "fraud-detector-trigger-dlq-alarm",
                "fraud-detector-trigger-dlq-policy",
                "fraud-detector-trigger-function",
                "fraud-detector-trigger-invoke",
                "fraud-detector-trigger-invoke-config",
                "fraud-detector-trigger-logs",
                "fraud-detector-trigger-policy",
                "fraud-detector-trigger-role",
                "fraud-detector-trigger-rule",
                "fraud-detector-trigger-runner",
                "fraud-detector-trigger-self-policy",
                "fraud-detector-trigger-start-policy",
                "fraud-detector-trigger-start-policy-attachment",
                "fraud-detector-trigger-state",
                "fraud-detector-trigger-target",
            ],
            pinned: "3",
            // The stack's last update predates the serving record: its pin is all it knows to have served, so the catalog stands in.
            warmVersions: ["2"],
            warmStandIn: expect.stringContaining("so version 2, the catalog's previous one, is kept warm as the rollback target though it has not served here"),
            servingHistory: [{ version: "3" }],
            quarantineLedger: {},
            retainedVersions: [],
            // The same pin again: no new snapshot.
            databaseSnapshots: [WENT_LIVE_3],
            // A plain pulumi up keeps no live setting against the config.
            ignoreChanges: {},
        });
    }, 60_000);

    it("snapshots the database when the pin differs from the one the stack last deployed, and declares only that snapshot", async () => {
        const example = rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml");
        const deployed = { pinnedVersion: "3", databaseSnapshots: [WENT_LIVE_3], database: { servingIdentifier: "fraud-features" } };
        const result = await runIndex(engineConfig({ ...example, pinned: "2", quarantined: ["3"] }), deployed);
        const ledger = result.databaseSnapshots as { identifier: string; from: string; to: string }[];
        expect(ledger).toHaveLength(2);
        expect(ledger[0]).toEqual(WENT_LIVE_3);
        expect(ledger[1]).toMatchObject({ identifier: "fraud-detector-entry-2-v3-to-v2", kind: "instance", database: "fraud-features", from: "3", to: "2" });
        const snapshots = (result.names as string[]).filter((name) => name.startsWith("fraud-detector-database-snapshot-"));
        // The earlier snapshot leaves the stack (retained in AWS) and stays in the ledger.
        expect(snapshots).toEqual(["fraud-detector-database-snapshot-fraud-detector-entry-2-v3-to-v2"]);
    }, 60_000);

    it("stops with a RunError naming every bad key, and declares nothing", async () => {
        const result = await runIndex(JSON.stringify({ "mlops:target": "sagemaker", "mlops:pinned": "3", "mlops:warm": "9" }));
        expect(result.error).toBe("RunError");
        expect(result.names).toEqual([]);
        expect(result.message).toContain("mlops:model: required");
        expect(result.message).toContain("mlops:warm: warm is 0..5");
        expect(result.message).toContain("mlops:sagemaker: required when mlops:target is 'sagemaker'");
    }, 60_000);

    describe("warm means served last: the program keeps the stack's serving record", () => {
        const example = rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml");

        it("a deploy straight from 1 to 3 keeps 1 warm (it served), not 2 (it never did), and records 3 as serving from this run", async () => {
            const result = await runIndex(engineConfig({ ...example, pinned: "3" }), {
                pinnedVersion: "1",
                servingHistory: [{ version: "1", since: "2026-11-01T00:00:00.000Z" }],
            });
            expect(result.names).toEqual(expect.arrayContaining(["fraud-detector-model-1", "fraud-detector-model-3"]));
            expect(result.names).not.toContain("fraud-detector-model-2");
            expect(result.warmVersions).toEqual(["1"]);
            expect(result.warmStandIn).toBeUndefined();
            expect(result.servingHistory).toEqual([
                { version: "1", since: "2026-11-01T00:00:00.000Z" },
                { version: "3", since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
            ]);
        }, 60_000);

        it("upgrading a stack whose last update predates the record keeps its warm versions (taken as served) instead of deleting them", async () => {
            const result = await runIndex(engineConfig({ ...example, pinned: "3", warm: 2 }), { pinnedVersion: "3", warmVersions: ["1", "2", "3"] });
            expect(result.warmVersions).toEqual(["1", "2"]);
            expect(result.warmStandIn).toBeUndefined();
            expect(result.servingHistory).toEqual([{ version: "1" }, { version: "2" }, { version: "3" }]);
        }, 60_000);

        it("with warm 2, keeps the two that served last, in the order they served", async () => {
            const servingHistory = [{ version: "2" }, { version: "1" }, { version: "3" }];
            const result = await runIndex(engineConfig({ ...example, pinned: "3", warm: 2 }), { pinnedVersion: "3", servingHistory });
            expect(result.warmVersions).toEqual(["2", "1"]);
            // The pin did not change: the record stays as it was.
            expect(result.servingHistory).toEqual(servingHistory);
        }, 60_000);

        it("after a rollback to 2 the version left is quarantined, so nothing that served before 2 is warm unless it came earlier", async () => {
            const servingHistory = [{ version: "1" }, { version: "2" }, { version: "3" }];
            const event = { from: "3", to: "2", reason: "5xx", at: "2026-11-27T09:00:00.000Z" };
            const result = await runIndex(
                engineConfig({ ...example, pinned: "2", quarantined: ["3"] }),
                { pinnedVersion: "3", servingHistory },
                {
                    MLOPS_ROLLBACK_EVENT: JSON.stringify(event),
                },
            );
            expect(result.warmVersions).toEqual(["1"]);
            expect((result.servingHistory as { version: string }[]).map((e) => e.version)).toEqual(["1", "3", "2"]);
            // The version left is recorded as retained (on Kubernetes: its Deployment kept at zero).
            expect(result.retainedVersions).toEqual(["3"]);
        }, 60_000);

        it("keeps the record of retained versions on a run at the same pin, and retires them with a forward deploy", async () => {
            const kubernetes = rawConfigFromStackFile("examples/kubernetes/Pulumi.sandbox.yaml");
            const servingHistory = [{ version: "1" }, { version: "3" }, { version: "2" }];
            const same = await runIndex(engineConfig({ ...kubernetes, pinned: "2", quarantined: ["3"] }), {
                pinnedVersion: "2",
                servingHistory,
                retainedVersions: ["3"],
            });
            expect(same.retainedVersions).toEqual(["3"]);
            expect(same.names).toContain("fraud-detector-deployment-3");
            const forward = await runIndex(engineConfig({ ...kubernetes, pinned: "3", rollback: { allowRedeploy: ["3"] } }), {
                pinnedVersion: "2",
                servingHistory,
                retainedVersions: ["3"],
                quarantineLedger: { "3": { at: "2026-11-27T08:00:00.000Z", reason: "5xx", rolledBackTo: "2" } },
            });
            expect(forward.retainedVersions).toEqual([]);
        }, 60_000);
    });

    describe("a rollback sticks, even against a stale config", () => {
        const example = rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml");
        const rolledBack = { quarantineLedger: { "3": { at: "2026-11-27T08:00:00.000Z", reason: "alarm fraud-detector-5xx", rolledBackTo: "2" } } };

        it("refuses a config that still pins the version a rollback left, naming when and why, and declares nothing", async () => {
            const result = await runIndex(engineConfig(example), rolledBack);
            expect(result.error).toBe("RunError");
            expect(result.names).toEqual([]);
            expect(result.message).toContain("version 3 was rolled back to 2 at 2026-11-27T08:00:00.000Z (alarm fraud-detector-5xx)");
            expect(result.message).toContain("mlops:rollback.allowRedeploy");
        }, 60_000);

        it("goes ahead when mlops:rollback.allowRedeploy releases the version, and drops it from the ledger", async () => {
            const result = await runIndex(engineConfig({ ...example, rollback: { allowRedeploy: ["3"] } }), rolledBack);
            expect(result.pinned).toBe("3");
            expect(result.quarantineLedger).toEqual({});
        }, 60_000);

        it("keeps versions in the ledger out of the warm set although the config no longer lists them", async () => {
            const config = { ...example, pinned: "3", warm: 2 };
            const result = await runIndex(engineConfig(config), {
                quarantineLedger: { "1": { at: "2026-11-01T00:00:00.000Z", reason: "bad", rolledBackTo: "0" } },
            });
            expect(result.warmVersions).toEqual(["2"]);
            expect(result.quarantineLedger).toEqual({ "1": { at: "2026-11-01T00:00:00.000Z", reason: "bad", rolledBackTo: "0" } });
        }, 60_000);

        it("records the rollback passed in MLOPS_ROLLBACK_EVENT when pulumi runs index.ts in its own process", async () => {
            const config = { ...example, pinned: "2", quarantined: ["3"] };
            const event = { from: "3", to: "2", reason: "p99 latency", at: "2026-11-27T09:00:00.000Z" };
            const result = await runIndex(engineConfig(config), {}, { MLOPS_ROLLBACK_EVENT: JSON.stringify(event) });
            expect(result.quarantineLedger).toEqual({ "3": { at: event.at, reason: "p99 latency", rolledBackTo: "2" } });
        }, 60_000);

        it("on the reconcile run after the alarm's fast path (afterFastPath in MLOPS_ROLLBACK_EVENT), keeps the endpoint's live deployment policy, and ignores nothing on any other run", async () => {
            const config = { ...example, pinned: "2", quarantined: ["3"] };
            const event = { from: "3", to: "2", reason: "alarm fraud-detector-5xx", at: "2026-11-27T09:00:00.000Z" };
            // The fast path has already pointed the endpoint at 2 with an all-at-once policy; the reconcile run must not undo it.
            const reconcile = await runIndex(engineConfig(config), {}, { MLOPS_ROLLBACK_EVENT: JSON.stringify({ ...event, afterFastPath: true }) });
            expect(reconcile.ignoreChanges).toEqual({ "fraud-detector-endpoint": ["deploymentConfig"] });
            // mlops rollback by hand (no fast path before it) and a plain pulumi up ignore nothing.
            const byHand = await runIndex(engineConfig(config), {}, { MLOPS_ROLLBACK_EVENT: JSON.stringify(event) });
            expect(byHand.ignoreChanges).toEqual({});
            const plain = await runIndex(engineConfig(config));
            expect(plain.ignoreChanges).toEqual({});
        }, 120_000);

        it("ignores an MLOPS_ROLLBACK_EVENT left in the environment that is not about the pin (a later deploy must not quarantine anything)", async () => {
            const config = { ...example, pinned: "3" };
            const stale = { from: "3", to: "1", reason: "an old shell", at: "2026-11-27T09:00:00.000Z" };
            const result = await runIndex(engineConfig(config), {}, { MLOPS_ROLLBACK_EVENT: JSON.stringify(stale) });
            expect(result.quarantineLedger).toEqual({});
        }, 60_000);

        it("keeps the ledgers a stack's older top-level outputs hold, when its last update returned no mlops output", async () => {
            const ledger = { "3": { at: "2026-11-20T10:00:00.000Z", reason: "5xx", rolledBackTo: "2" } };
            const result = await runIndex(
                engineConfig({ ...example, pinned: "3" }),
                {},
                { MLOPS_TEST_LEGACY_OUTPUTS: JSON.stringify({ quarantineLedger: ledger }) },
            );
            expect(result).toMatchObject({ error: "RunError" });
            expect(String(result.message)).toContain("mlops:pinned is 3, but version 3 was rolled back to 2");
            expect(result.names).toEqual([]);
        }, 60_000);
    });
});
