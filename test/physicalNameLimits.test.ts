/**
 * Every physical name the program derives fits its service's limit, for
 * every config the schema accepts: a name past its limit passes `mlops
 * validate` and then fails `pulumi up` half-way (an EventBridge target whose
 * auto-name is 65 characters, a cluster snapshot identifier of 70). The
 * program runs under the mocks over the schema's bounds, on both targets
 * with every optional section, and each registered resource's names (an
 * explicit one, or the logical name plus Pulumi's 8-character auto-name
 * suffix) are checked against `plan/physicalNames.ts`, which must know every
 * type the program declares.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_MODEL_LENGTH_WITH_TRIGGER, MAX_TRIGGER_COMPONENT_NAME_LENGTH } from "../catalog/names";
import { AlarmRollbackTrigger } from "../components/alarmRollbackTrigger";
import { parseStackConfig, StackConfigError, type StackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { nextSnapshotLedger, snapshotIdentifier, type SnapshotRecord } from "../database/snapshots";
import { installRecordingMocks, MOCK_ACCOUNT_ID, recordProgram, type RegisteredResource } from "../plan/mockRuntime";
import { PHYSICAL_NAMES, physicalNames } from "../plan/physicalNames";
import { digestFor, runMlopsBin, type BinRun } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
const NOW = "2026-11-27T12:34:56.000Z";

/** Every name of every registered resource that is past its limit (or missing where the program must give one), one line each. */
function namesPastTheirLimit(registered: readonly RegisteredResource[]): string[] {
    return registered.flatMap((resource) => {
        if (PHYSICAL_NAMES[resource.type] === undefined) return [`${resource.type} (${resource.name}): no entry in plan/physicalNames.ts`];
        return physicalNames(resource.type, resource.name, resource.inputs).flatMap(({ rule, name }) => {
            if (name === undefined) return [`${resource.type} ${resource.name}: ${rule.field} unset, and the provider does not name it`];
            return name.length > rule.maxLength
                ? [`${resource.type} ${resource.name}: ${rule.field} '${name}' is ${name.length} > ${rule.maxLength} (${rule.source})`]
                : [];
        });
    });
}

/**
 * Run the program for `config` on `stack`, as a pin change from `from` after
 * `earlierSnapshots` pin changes, so that the snapshot this run takes (and
 * the one it keeps) is declared with a realistic identifier.
 */
async function declared(config: StackConfig, stack: string, from: string | null, earlierSnapshots: number): Promise<RegisteredResource[]> {
    const earlier: SnapshotRecord[] = Array.from({ length: earlierSnapshots }, (_, index) => ({
        identifier: `earlier-${index + 1}`,
        kind: config.database?.kind ?? "instance",
        database: config.database?.identifier ?? "db",
        from: null,
        to: config.pinned,
        at: NOW,
    }));
    const snapshots = config.database === undefined ? undefined : nextSnapshotLedger(earlier, config, { pinned: from }, stack, NOW);
    return recordProgram(config, stack, { snapshots, now: NOW });
}

// ---- Generators over the schema's bounds, biased to the longest values ----

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";

/** A string of `length` from `middle`, with its own first and last characters. */
function bounded(length: number, first: string, middle: string, last: string): fc.Arbitrary<string> {
    if (length === 1) return fc.constantFrom(...first.split("").filter((c) => last.includes(c)));
    return fc
        .tuple(fc.constantFrom(...first), fc.array(fc.constantFrom(...middle), { minLength: length - 2, maxLength: length - 2 }), fc.constantFrom(...last))
        .map(([head, body, tail]) => `${head}${body.join("")}${tail}`);
}

/** Mostly at or near `max`: the limits are where names break. */
const lengthUpTo = (max: number, min = 1) => fc.oneof({ weight: 3, arbitrary: fc.integer({ min: Math.max(min, max - 5), max }) }, fc.integer({ min, max }));

/** `mlops:model`: 1-40 characters, `^[a-z]([-a-z0-9]*[a-z0-9])?$`. */
const modelName = lengthUpTo(40).chain((n) => bounded(n, LOWER, `${LOWER}${DIGITS}-`, `${LOWER}${DIGITS}`));
/** A Pulumi stack name: at most 100 letters, digits, `-`, `_`, `.`. */
const stackName = lengthUpTo(100).chain((n) => bounded(n, `${LOWER}ABC${DIGITS}`, `${LOWER}XYZ${DIGITS}-_.`, `${LOWER}${DIGITS}_.`));
/**
 * A version id of up to `max` characters (32, or less where the model leaves
 * less room in a derived name: longer ones the schema refuses); the index's
 * letter first keeps the catalog's derived names apart.
 */
const versionId = (index: number, max: number) => lengthUpTo(max).chain((n) => bounded(n, LOWER[index], `${LOWER}${DIGITS}._-Q`, `${LOWER}${DIGITS}`));

/** Room for a version id: `<model>-config-<id>` (SageMaker, 55 before the auto-name suffix) or `<model>-<id>` (a Deployment, 63). */
const versionRoom = (target: "sagemaker" | "kubernetes", model: string) =>
    Math.max(1, Math.min(32, target === "sagemaker" ? 55 - model.length - "-config-".length : 63 - model.length - 1));
/** A custom alarm's name: 1-40 of `[-a-z0-9]`; the index's letter first keeps them apart. */
const alarmName = (index: number) => lengthUpTo(40).chain((n) => bounded(n, LOWER[index], `${LOWER}${DIGITS}-`, `${LOWER}${DIGITS}`));
/** An RDS identifier: at most `max`, a letter first, no `--`, no trailing `-`. */
const rdsIdentifier = (max: number) =>
    lengthUpTo(max).chain((n) => bounded(n, LOWER, `${LOWER}${DIGITS}`, `${LOWER}${DIGITS}`).map((id) => id.replace(/(.{7})./g, "$1-").replace(/-$/, "a")));
const namespace = lengthUpTo(63).chain((n) => bounded(n, LOWER, `${LOWER}${DIGITS}-`, `${LOWER}${DIGITS}`));

const database = fc.oneof(
    fc.constant(undefined),
    fc.record({ kind: fc.constantFrom("instance", "cluster"), identifier: rdsIdentifier(63), restoredInto: fc.option(rdsIdentifier(63), { nil: undefined }) }),
    fc.record({
        kind: fc.constant("instance"),
        identifier: rdsIdentifier(63),
        addressEnv: fc.constant("FEATURE_DB_HOST"),
        manage: fc.constant({ engine: "postgres", instanceClass: "db.t4g.medium", allocatedStorageGiB: 20 }),
    }),
    fc.record({
        kind: fc.constant("cluster"),
        identifier: rdsIdentifier(56),
        addressEnv: fc.constant("FEATURE_DB_HOST"),
        manage: fc.constant({ engine: "aurora-postgresql", instanceClass: "db.r6g.large" }),
    }),
);

const scenario = fc
    .record({
        target: fc.constantFrom("sagemaker" as const, "kubernetes" as const),
        model: modelName,
        stack: stackName,
        versionCount: fc.integer({ min: 2, max: 6 }),
        warm: fc.integer({ min: 0, max: 5 }),
        pinOffset: fc.nat(),
        customAlarms: fc.integer({ min: 1, max: 6 }),
        trigger: fc.boolean(),
        database,
        namespace,
        earlierSnapshots: fc.integer({ min: 0, max: 999 }),
    })
    .chain((s) =>
        fc.record({
            scenario: fc.constant(s),
            ids: fc.tuple(...Array.from({ length: s.versionCount }, (_, index) => versionId(index, versionRoom(s.target, s.model)))),
            alarms: fc.tuple(...Array.from({ length: s.customAlarms }, (_, index) => alarmName(index))),
        }),
    )
    .map(({ scenario: s, ids, alarms }) => {
        const pinnedIndex = 1 + (s.pinOffset % (ids.length - 1));
        const raw: Record<string, unknown> = {
            target: s.target,
            model: s.model,
            pinned: ids[pinnedIndex],
            warm: Math.min(s.warm, pinnedIndex),
            versions: ids.map((version, index) => ({
                version,
                image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/m@sha256:${digestFor(index)}`,
                artifact: `s3://models/m/${index}/model.tar.gz`,
            })),
            alarms: {
                clientErrorRatePercent: 5,
                custom: alarms.map((name) => ({ name, namespace: "Acme", metricName: "latency", threshold: 1 })),
                // SageMaker takes at most 10 guardrail alarms; these are more than enough names.
                feedGuardrails: false,
            },
            ...(s.trigger
                ? {
                      trigger: {
                          runnerRoleArn: "arn:aws:iam::123456789012:role/deployer",
                          source: { type: "CODECOMMIT", location: "https://example.com/r" },
                          pulumiCli: { version: "3.248.0", sha256: "0".repeat(64) },
                      },
                  }
                : {}),
            ...(s.database === undefined ? {} : { database: s.database }),
            ...(s.target === "sagemaker"
                ? { sagemaker: { instanceType: "ml.m5.large", vpc: { subnetIds: ["subnet-0a1b"], securityGroupIds: ["sg-0a1b"] } } }
                : { kubernetes: { namespace: s.namespace, createNamespace: true } }),
        };
        return { raw, stack: s.stack, from: ids[pinnedIndex - 1], earlierSnapshots: s.earlierSnapshots };
    });

/** The config if the schema accepts it; undefined when it refuses (then nothing is deployed, and nothing to check). */
function accepted(raw: unknown): StackConfig | undefined {
    try {
        return parseStackConfig(raw);
    } catch (error) {
        if (error instanceof StackConfigError) return undefined;
        throw error;
    }
}

describe("physical names fit their services' limits", () => {
    it("knows the limit of every type the program declares, on both targets with every optional section", async () => {
        const sagemaker = parseStackConfig({
            ...rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml"),
            database: {
                kind: "instance",
                identifier: "fraud-features",
                addressEnv: "DB",
                manage: { engine: "postgres", instanceClass: "db.t4g.medium", allocatedStorageGiB: 20 },
            },
        });
        const kubernetes = parseStackConfig({
            ...rawConfigFromStackFile("stacks/Pulumi.kubernetes-example.yaml"),
            alarms: { custom: [{ name: "pod-restarts", namespace: "ContainerInsights", metricName: "restarts", threshold: 3 }] },
            trigger: {
                runnerRoleArn: "arn:aws:iam::123456789012:role/deployer",
                source: { type: "CODECOMMIT", location: "https://example.com/r" },
                pulumiCli: { version: "3.248.0", sha256: "0".repeat(64) },
            },
            database: {
                kind: "cluster",
                identifier: "fraud-features",
                addressEnv: "DB",
                manage: { engine: "aurora-postgresql", instanceClass: "db.r6g.large" },
            },
        });
        const types = new Set([...(await declared(sagemaker, "prod", "2", 0)), ...(await declared(kubernetes, "prod", "2", 0))].map((r) => r.type));

        expect(types.size).toBeGreaterThanOrEqual(25);
        expect([...types].filter((type) => PHYSICAL_NAMES[type] === undefined)).toEqual([]);
    });

    it("for every accepted config over the schema's bounds: model names to 40, stack names to 100, version ids to 32, custom alarm names to 40, RDS identifiers to 63", async () => {
        let checked = 0;
        await fc.assert(
            fc.asyncProperty(scenario, async ({ raw, stack, from, earlierSnapshots }) => {
                const config = accepted(raw);
                fc.pre(config !== undefined);
                checked += 1;
                if (config === undefined) return;
                expect(namesPastTheirLimit(await declared(config, stack, from, earlierSnapshots))).toEqual([]);
            }),
            // endOnFailure: shrinking reruns the program hundreds of times; the failure names the resource and its name anyway.
            { numRuns: 30, maxSkipsPerRun: 1000, endOnFailure: true },
        );
        expect(checked).toBe(30);
    }, 120_000);

    it("at the longest: a 35-character model with the trigger, a 100-character stack and the longest version ids on a managed cluster", async () => {
        const model = `m${"x".repeat(MAX_MODEL_LENGTH_WITH_TRIGGER - 1)}`;
        // A Deployment's name, `<model>-<version>`, is a DNS label: 63 at most.
        const ids = ["a".repeat(63 - model.length - 1), "b".repeat(63 - model.length - 1)];
        const raw = {
            target: "kubernetes",
            model,
            pinned: ids[1],
            versions: ids.map((version, index) => ({ version, image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/m@sha256:${digestFor(index)}` })),
            kubernetes: { namespace: "n".repeat(63), createNamespace: true },
            alarms: { custom: [{ name: "c".repeat(40), namespace: "Acme", metricName: "latency", threshold: 1 }] },
            trigger: {
                runnerRoleArn: "arn:aws:iam::123456789012:role/deployer",
                source: { type: "CODECOMMIT", location: "https://example.com/r" },
                pulumiCli: { version: "3.248.0", sha256: "0".repeat(64) },
            },
            database: { kind: "cluster", identifier: `d${"b".repeat(55)}`, manage: { engine: "aurora-postgresql", instanceClass: "db.r6g.large" } },
        };
        const registered = await declared(parseStackConfig(raw), "s".repeat(100), ids[0], 998);

        expect(namesPastTheirLimit(registered)).toEqual([]);
        // The cluster snapshot's identifier is cut to RDS's 63 and stays the same on every run.
        const snapshot = registered.find((r) => r.type === "aws:rds/clusterSnapshot:ClusterSnapshot");
        expect(snapshot?.inputs.dbClusterSnapshotIdentifier).toBe(snapshotIdentifier(model, "s".repeat(100), 999, ids[0], ids[1], 63));
        expect(String(snapshot?.inputs.dbClusterSnapshotIdentifier)).toMatch(/^[a-z](?!.*--)[a-z0-9-]{0,61}[a-z0-9]$/);
    });
});

describe("AlarmRollbackTrigger used on its own", () => {
    /** Declare a trigger named `name` under the mocks: what it registered, or the error it threw. */
    async function trigger(name: string): Promise<{ registered: RegisteredResource[]; error: unknown }> {
        const registered = await installRecordingMocks("test");
        let error: unknown;
        try {
            new AlarmRollbackTrigger(name, {
                model: "fraud",
                stack: "prod",
                target: "kubernetes",
                settings: {
                    runnerRoleArn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/deployer`,
                    source: { type: "CODECOMMIT", location: "https://example.com/r" },
                    pulumiCli: { version: "3.248.0", sha256: "0".repeat(64) },
                },
                alarmName: "fraud-prod-rollback",
                alarmArn: `arn:aws:cloudwatch:us-east-1:${MOCK_ACCOUNT_ID}:alarm:fraud-prod-rollback`,
                topicArn: `arn:aws:sns:us-east-1:${MOCK_ACCOUNT_ID}:fraud-alarms`,
                topicKeyArn: `arn:aws:kms:us-east-1:${MOCK_ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
                pinnedVersion: "2",
            });
        } catch (thrown) {
            error = thrown;
        }
        await pulumi.runtime.disconnect();
        return { registered, error };
    }

    it("refuses a name its children's auto-names would not fit, and declares nothing", async () => {
        const name = "t".repeat(MAX_TRIGGER_COMPONENT_NAME_LENGTH + 1);
        const { registered, error } = await trigger(name);
        expect(pulumi.ResourceError.isInstance(error)).toBe(true);
        expect((error as Error).message).toContain(
            `AlarmRollbackTrigger ${name}: a name of at most 43 characters: the rollback trigger's EventBridge target id`,
        );
        expect(registered).toEqual([]);
    });

    it("takes a name of 43 characters, every child within its limit", async () => {
        const { registered, error } = await trigger("t".repeat(MAX_TRIGGER_COMPONENT_NAME_LENGTH));
        expect(error).toBeUndefined();
        expect(registered.length).toBeGreaterThan(10);
        expect(namesPastTheirLimit(registered)).toEqual([]);
    });
});

describe("snapshot identifiers", () => {
    it("keep every identifier that fits as it was, and cut a longer one to the kind's limit with a hash of the whole", () => {
        expect(snapshotIdentifier("fraud-detector", "prod", 4, "2", "3", 63)).toBe("fraud-detector-prod-4-v2-to-v3");
        const long = snapshotIdentifier("m".repeat(40), "production-eu-west-1", 12, "2026.11.27-rc1", "2026.12.01-rc2", 63);
        expect(long).toHaveLength(63);
        expect(long).toMatch(/^m{40}-production-eu-[0-9a-f]{8}$/);
        expect(snapshotIdentifier("m".repeat(40), "production-eu-west-1", 12, "2026.11.27-rc1", "2026.12.01-rc3", 63)).not.toBe(long);
    });

    it("never hold '--', which RDS refuses, whatever the model name", () => {
        expect(snapshotIdentifier("fraud--detector", "prod", 1, null, "3")).toBe("fraud-detector-prod-1-initial-to-v3");
    });
});

/** The real `mlops` bin, from the project directory. */
function mlops(...args: string[]): Promise<BinRun> {
    return runMlopsBin(ROOT, args, { timeoutMs: 60_000 });
}

/** An example stack file with another `mlops:model`, and `edit` applied to its text. */
function exampleWithModel(example: string, model: string, edit: (text: string) => string = (text) => text): string {
    const original = readFileSync(path.join(ROOT, example), "utf8");
    expect(original).toContain("  mlops:model: fraud-detector\n");
    const file = path.join(mkdtempSync(path.join(tmpdir(), "mlops-name-limits-")), "Pulumi.long.yaml");
    writeFileSync(file, edit(original.replace("  mlops:model: fraud-detector\n", `  mlops:model: ${model}\n`)));
    return file;
}

const named = (length: number) => `fraud-detector-${"x".repeat(length - "fraud-detector-".length)}`;

describe("mlops validate refuses a model name whose derived names would not fit (real bin)", () => {
    it("the issue's input: a 38-character model with alarms and trigger is exit 2, naming mlops:model and the limit", async () => {
        const run = await mlops("validate", "--config-file", exampleWithModel("stacks/Pulumi.sagemaker-example.yaml", named(38)));
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("  mlops:model: at most 35 characters with mlops:trigger:");
        expect(run.stderr).toContain(
            `'${named(38)}-trigger-build-target' plus Pulumi's 8-character auto-name suffix, 67 characters, and EventBridge allows 64`,
        );
    });

    it("a 35-character model with alarms and trigger is valid: every name fits", async () => {
        const run = await mlops("validate", "--config-file", exampleWithModel("stacks/Pulumi.sagemaker-example.yaml", named(35)));
        expect(run.stderr).toBe("");
        expect(run.code).toBe(0);
    });

    it("a 40-character model with alarms but no trigger is valid: only the trigger needs the shorter name", async () => {
        const withoutTrigger = (text: string) => text.slice(0, text.indexOf("  mlops:trigger:"));
        const run = await mlops("validate", "--config-file", exampleWithModel("stacks/Pulumi.sagemaker-example.yaml", named(40), withoutTrigger));
        expect(run.code).toBe(0);
    });

    it("on kubernetes too: a 36-character model with a custom alarm and trigger is exit 2", async () => {
        const withAlarmsAndTrigger = (text: string) =>
            `${text}  mlops:alarms:\n    custom:\n      - { name: pod-restarts, namespace: ContainerInsights, metricName: restarts, threshold: 3 }\n` +
            `  mlops:trigger:\n    runnerRoleArn: arn:aws:iam::123456789012:role/deployer\n    source: { type: CODECOMMIT, location: https://example.com/r }\n    pulumiCli: { version: "3.248.0", sha256: "${"0".repeat(64)}" }\n`;
        const run = await mlops("validate", "--config-file", exampleWithModel("stacks/Pulumi.kubernetes-example.yaml", named(36), withAlarmsAndTrigger));
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("  mlops:model: at most 35 characters with mlops:trigger:");
    });
});
