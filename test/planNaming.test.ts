/**
 * `mlops plan` may overstate, never understate: under its mocks a replaced
 * auto-named resource gets a new physical name, as Pulumi's auto-naming gives
 * it one, so whatever references that name shows as changed too, and a
 * resource whose replacing inputs are unchanged keeps its name.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { changedPaths, diffRegistrations, type PlanOperation } from "../plan/diff";
import { installRecordingMocks, mockPhysicalName, nameByReplacingInputs, PLAN_NAMING, recordProgram, type RegisteredResource } from "../plan/mockRuntime";
import { explicitName } from "../plan/physicalNames";
import { planConfigChange, type RecordProgram } from "../plan/plan";
import type { DeclareOptions } from "../program";
import { runMlopsBin, type BinRun } from "./helpers";
import { changeReplaces, REPLACE_ON_CHANGE, replacingInputs } from "../plan/replaceOnChange";

const ROOT = path.resolve(__dirname, "..");
const SAGEMAKER_EXAMPLE = "stacks/Pulumi.sagemaker-example.yaml";
const KUBERNETES_EXAMPLE = "stacks/Pulumi.kubernetes-example.yaml";
const MODEL = "aws:sagemaker/model:Model";
const ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration";
const ENDPOINT = "aws:sagemaker/endpoint:Endpoint";
const METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";
const FUNCTION = "aws:lambda/function:Function";

describe("the plan's names follow its replace rules exactly", () => {
    /**
     * Inputs made of the keys a rule names (and two it does not), and an edit
     * of them: a few values set at paths of those keys, or every leaf of one
     * value turned into another (`undefined` into `null` in an array, say).
     */
    function inputsAndEdit(type: string) {
        const rule = REPLACE_ON_CHANGE[type] ?? { replaceOn: ["name", "spec.selector"] };
        const keys = fc.constantFrom(
            ...new Set([...("replaceOn" in rule ? rule.replaceOn : rule.replaceAllExcept).flatMap((p) => p.split(".")), "other", "tags"]),
        );
        const { value } = fc.letrec((tie) => ({
            leaf: fc.constantFrom(undefined, null, 0, 1, "a", "b", true),
            value: fc.oneof(
                { maxDepth: 4, depthSize: "small" },
                tie("leaf"),
                fc.array(tie("value"), { maxLength: 2 }),
                fc.dictionary(keys, tie("value"), { maxKeys: 3 }),
            ),
        }));
        const leaves = fc.constantFrom(undefined, null, 0, 1, "a", "b", true);
        const edit = fc.oneof(
            fc.tuple(fc.array(keys, { minLength: 1, maxLength: 3 }), value).map(
                ([at, member]) =>
                    (inputs: Record<string, unknown>) =>
                        setAt(inputs, at, member),
            ),
            fc.tuple(leaves, leaves).map(
                ([from, to]) =>
                    (inputs: Record<string, unknown>) =>
                        replaceLeaves(inputs, from, to) as Record<string, unknown>,
            ),
        );
        return fc.tuple(fc.dictionary(keys, value, { maxKeys: 4 }), fc.array(edit, { minLength: 1, maxLength: 3 }));
    }

    it.each([...Object.keys(REPLACE_ON_CHANGE), "aws:s3/bucket:Bucket (a type the table lacks)"])(
        "%s: a new name exactly when the diff plans a replace",
        (type) => {
            fc.assert(
                fc.property(inputsAndEdit(type), ([before, edits]) => {
                    const after = edits.reduce((inputs, apply) => apply(inputs), before);
                    const replaced = changedPaths(before, after).some((changed) => changeReplaces(type, changed));
                    expect(replacingInputs(type, after) !== replacingInputs(type, before)).toBe(replaced);
                }),
                { numRuns: 300 },
            );
        },
    );

    it("keeps the Endpoint's name for a new config pointer or bake time, and renames it for a new alarm set or a deploymentConfig that appears", () => {
        const endpoint = (deploymentConfig: unknown) => nameByReplacingInputs(ENDPOINT, "m-endpoint", { endpointConfigName: "c3", deploymentConfig });
        const blueGreen = { blueGreenUpdatePolicy: { terminationWaitInSeconds: 600 } };
        const named = endpoint(blueGreen);
        expect(named).toMatch(/^m-endpoint-[0-9a-f]{12}$/);
        expect(nameByReplacingInputs(ENDPOINT, "m-endpoint", { endpointConfigName: "c2", deploymentConfig: blueGreen })).toBe(named);
        expect(endpoint({ blueGreenUpdatePolicy: { terminationWaitInSeconds: 900 } })).toBe(named);
        expect(endpoint({ ...blueGreen, autoRollbackConfiguration: { alarms: [{ alarmName: "a" }] } })).not.toBe(named);
        expect(endpoint(undefined)).not.toBe(named);
    });

    it("keeps a name the program gives, whatever else changes", () => {
        expect(nameByReplacingInputs(METRIC_ALARM, "m-alarms-5xx-rate", { name: "m-prod-5xx-rate", threshold: 5 })).toBe("m-prod-5xx-rate");
        expect(nameByReplacingInputs("kubernetes:apps/v1:Deployment", "m-deployment-3", { metadata: { name: "m-3" }, spec: { selector: {} } })).toBe("m-3");
        expect(nameByReplacingInputs("aws:cloudwatch/compositeAlarm:CompositeAlarm", "m-alarms-rollback", { alarmName: "m-prod-rollback" })).toBe(
            "m-prod-rollback",
        );
    });
});

/**
 * `mlops plan --against`'s runs, in this process, under the plan's naming:
 * one after the other, since the mock runtime is process-global (the CLI runs
 * each in a child process).
 */
let lastRun: Promise<unknown> = Promise.resolve();
const recordInProcess: RecordProgram = (raw, run = {}) => {
    // What the program is told besides its config (the snapshot ledger, the time, ...); no user program here.
    const { stack, ...rest } = run;
    const options = Object.fromEntries(Object.entries(rest).filter(([key]) => key !== "program" && key !== "previousOutputs")) as DeclareOptions;
    const next = lastRun.then(() => recordProgram(parseStackConfig(raw), stack, options, PLAN_NAMING));
    lastRun = next.catch(() => undefined);
    return next;
};

function sagemakerExample(): Record<string, unknown> {
    return rawConfigFromStackFile(SAGEMAKER_EXAMPLE);
}

const summaryOf = (operations: readonly PlanOperation[]) => operations.map((o) => `${o.op} ${o.name} (${o.changed.join(", ")})`).sort();

describe("under the plan's naming, what a replacement drags along shows (in-process runs)", () => {
    it("a Model replaced (a new addressEnv value after --restore-database) replaces every config naming it, and the Endpoint moves", async () => {
        const before = sagemakerExample();
        const database = before.database as Record<string, unknown>;
        const plan = await planConfigChange(
            before,
            { ...before, database: { ...database, restoredInto: "fraud-features-restore-202611271305" } },
            { record: recordInProcess },
        );

        expect(summaryOf(plan.operations)).toEqual(
            expect.arrayContaining([
                "replace fraud-detector-model-2 (primaryContainer.environment.FEATURE_DB_HOST)",
                "replace fraud-detector-model-3 (primaryContainer.environment.FEATURE_DB_HOST)",
                "replace fraud-detector-config-2 (productionVariants[0].modelName)",
                "replace fraud-detector-config-3 (productionVariants[0].modelName)",
                "update fraud-detector-endpoint (endpointConfigName)",
            ]),
        );
        // The trigger's fast path names the configs: its policy and environment follow.
        expect(plan.operations.filter((o) => o.type === FUNCTION).map((o) => o.op)).toEqual(["update"]);
    });

    it("an EndpointConfiguration replaced alone (instanceCount) moves the Endpoint and leaves every Model as it is", async () => {
        const before = sagemakerExample();
        const plan = await planConfigChange(
            before,
            { ...before, sagemaker: { ...(before.sagemaker as object), instanceCount: 3 } },
            { record: recordInProcess },
        );

        expect(plan.operations.filter((o) => o.type === ENDPOINT_CONFIG).map((o) => [o.name, o.op])).toEqual([
            ["fraud-detector-config-2", "replace"],
            ["fraud-detector-config-3", "replace"],
        ]);
        expect(plan.operations.filter((o) => o.type === ENDPOINT)).toEqual([
            { type: ENDPOINT, name: "fraud-detector-endpoint", op: "update", changed: ["endpointConfigName"] },
        ]);
        expect(plan.operations.filter((o) => o.type === MODEL)).toEqual([]);
    });

    it("an Endpoint replaced (a new guardrail alarm) re-points the alarms that watch it and the trigger that switches it", async () => {
        const before = sagemakerExample();
        const sagemaker = before.sagemaker as { deployment: Record<string, unknown> };
        const after = { ...before, sagemaker: { ...sagemaker, deployment: { ...sagemaker.deployment, rollbackAlarmNames: ["fraud-detector-business-kpi"] } } };
        const plan = await planConfigChange(before, after, { record: recordInProcess });

        expect(plan.operations.filter((o) => o.type === ENDPOINT).map((o) => o.op)).toEqual(["replace"]);
        expect(plan.operations.filter((o) => o.type === METRIC_ALARM)).toEqual([
            {
                type: METRIC_ALARM,
                name: "fraud-detector-alarms-5xx-rate",
                op: "update",
                changed: ["metricQueries[0].metric.dimensions.EndpointName", "metricQueries[1].metric.dimensions.EndpointName"],
            },
            { type: METRIC_ALARM, name: "fraud-detector-alarms-latency-p99", op: "update", changed: ["dimensions.EndpointName"] },
        ]);
        expect(plan.operations.find((o) => o.type === FUNCTION)?.changed).toContain("environment.variables.MLOPS_ENDPOINT_NAME");
    });

    it("an in-place update renames nothing: a new bake time updates the Endpoint alone", async () => {
        const before = sagemakerExample();
        const sagemaker = before.sagemaker as { deployment: Record<string, unknown> };
        const after = { ...before, sagemaker: { ...sagemaker, deployment: { ...sagemaker.deployment, bakeTimeSeconds: 900 } } };
        const plan = await planConfigChange(before, after, { record: recordInProcess });

        expect(plan.operations).toEqual([
            { type: ENDPOINT, name: "fraud-detector-endpoint", op: "update", changed: ["deploymentConfig.blueGreenUpdatePolicy.terminationWaitInSeconds"] },
        ]);
    });

    it.each([
        ["the SageMaker example", () => sagemakerExample()],
        ["the Kubernetes example with alarms, trigger and a managed cluster", () => kubernetesWithEverything()],
        ["a SageMaker config with a VPC, a managed instance and warm 2", () => sagemakerWithEverything()],
    ])("shows no change for %s planned against itself", async (_name, raw) => {
        const plan = await planConfigChange(raw(), raw(), { record: recordInProcess });
        expect(plan.operations).toEqual([]);
    });

    // Whatever names a replaced auto-named resource (by the name the plan's mocks gave it, which its id and ARN hold too) must show in the plan.
    it.each([
        ["instanceType", (raw: Raw) => ({ ...raw, sagemaker: { ...(raw.sagemaker as object), instanceType: "ml.c5.xlarge" } })],
        [
            "a VPC",
            (raw: Raw) => ({ ...raw, sagemaker: { ...(raw.sagemaker as object), vpc: { subnetIds: ["subnet-0a1b2c"], securityGroupIds: ["sg-0a1b2c3d"] } } }),
        ],
        ["addressEnv", (raw: Raw) => ({ ...raw, database: { ...(raw.database as object), addressEnv: "FEATURE_DB_ADDRESS" } })],
        [
            "the bake time",
            (raw: Raw) => ({
                ...raw,
                sagemaker: { ...(raw.sagemaker as Raw), deployment: { ...((raw.sagemaker as Raw).deployment as object), bakeTimeSeconds: 900 } },
            }),
        ],
        ["a threshold", (raw: Raw) => ({ ...raw, alarms: { ...(raw.alarms as object), latencyP99Ms: 1200 } })],
    ])("leaves nothing that names a replaced resource out of the plan: %s", async (_edit, change) => {
        const beforeRaw = sagemakerExample();
        const [before, after] = [await recordInProcess(beforeRaw), await recordInProcess(change(beforeRaw))];
        const plan = await planConfigChange(beforeRaw, change(beforeRaw), { record: recordInProcess });
        const shown = new Set(plan.operations.map((o) => `${o.type}::${o.name}`));
        const renamed = plan.operations
            .filter((o) => o.op === "replace")
            .map((o) => before.find((r) => r.type === o.type && r.name === o.name) as RegisteredResource)
            .filter((r) => explicitName(r.type, r.inputs) === undefined)
            .map((r) => mockPhysicalName(PLAN_NAMING, r.type, r.name, r.inputs));
        for (const resource of after) {
            const previous = before.find((r) => r.type === resource.type && r.name === resource.name);
            const names = renamed.filter((name) => previous !== undefined && JSON.stringify(previous.inputs).includes(name));
            if (names.length > 0) expect(shown, `${resource.name} names ${names.join(", ")}`).toContain(`${resource.type}::${resource.name}`);
        }
    });
});

type Raw = Record<string, unknown>;

function kubernetesWithEverything(): Raw {
    return {
        ...rawConfigFromStackFile(KUBERNETES_EXAMPLE),
        alarms: { custom: [{ name: "pod-restarts", namespace: "ContainerInsights", metricName: "pod_number_of_container_restarts", threshold: 3 }] },
        trigger: {
            runnerRoleArn: "arn:aws:iam::123456789012:role/deployer",
            source: { type: "CODECOMMIT", location: "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/ml" },
            pulumiCli: { version: "3.248.0", sha256: "0".repeat(64) },
        },
        database: {
            kind: "cluster",
            identifier: "fraud-features",
            addressEnv: "FEATURE_DB_HOST",
            manage: { engine: "aurora-postgresql", instanceClass: "db.r6g.large" },
        },
    };
}

function sagemakerWithEverything(): Raw {
    const raw = sagemakerExample();
    return {
        ...raw,
        warm: 2,
        sagemaker: { ...(raw.sagemaker as object), vpc: { subnetIds: ["subnet-0a1b2c"], securityGroupIds: ["sg-0a1b2c3d"] } },
        database: {
            kind: "instance",
            identifier: "fraud-features",
            addressEnv: "FEATURE_DB_HOST",
            manage: { engine: "postgres", instanceClass: "db.t4g.medium", allocatedStorageGiB: 20 },
        },
    };
}

/** A copy of `value` with every leaf equal to `from` (in objects and arrays) turned into `to`. */
function replaceLeaves(value: unknown, from: unknown, to: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => replaceLeaves(item, from, to));
    if (typeof value === "object" && value !== null)
        return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replaceLeaves(item, from, to)]));
    return value === from ? to : value;
}

/** A copy of `inputs` with `member` at `at`, objects made along the way. */
function setAt(inputs: Record<string, unknown>, [head, ...rest]: string[], member: unknown): Record<string, unknown> {
    if (rest.length === 0) return { ...inputs, [head]: member };
    const child = inputs[head];
    const object = typeof child === "object" && child !== null && !Array.isArray(child) ? (child as Record<string, unknown>) : {};
    return { ...inputs, [head]: setAt(object, rest, member) };
}

/** The real `mlops` bin, from the project directory. */
function mlops(...args: string[]): Promise<BinRun> {
    return runMlopsBin(ROOT, args, { timeoutMs: 90_000 });
}

/** The SageMaker example with one edit of its text, as a user would make it, in a file of its own. */
function editedExample(from: string, to: string): string {
    const original = readFileSync(path.join(ROOT, SAGEMAKER_EXAMPLE), "utf8");
    expect(original).toContain(from);
    const file = path.join(mkdtempSync(path.join(tmpdir(), "mlops-plan-naming-")), "Pulumi.edited.yaml");
    writeFileSync(file, original.replace(from, to));
    return file;
}

async function planAgainstExample(edited: string): Promise<{ summary: Record<string, number>; lines: string[] }> {
    const run = await mlops("plan", "--config-file", edited, "--against", SAGEMAKER_EXAMPLE, "--json");
    expect(run.stderr).not.toMatch(/Error|failed/);
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout) as { summary: Record<string, number>; operations: PlanOperation[] };
    return { summary: plan.summary, lines: summaryOf(plan.operations) };
}

describe("mlops plan --against through the real bin: the step that starts a new fleet shows", () => {
    const modelsAndConfigsReplaced = (changed: string) => [
        `replace fraud-detector-model-2 (${changed})`,
        `replace fraud-detector-model-3 (${changed})`,
        "replace fraud-detector-config-2 (productionVariants[0].modelName)",
        "replace fraud-detector-config-3 (productionVariants[0].modelName)",
        "update fraud-detector-endpoint (endpointConfigName)",
    ];

    it("a new addressEnv value after --restore-database (the issue's input): Models, configs and the Endpoint's endpointConfigName", async () => {
        const plan = await planAgainstExample(
            editedExample("    addressEnv: FEATURE_DB_HOST\n", "    addressEnv: FEATURE_DB_HOST\n    restoredInto: fraud-features-restore-202611271305\n"),
        );
        expect(plan.lines).toEqual(expect.arrayContaining(modelsAndConfigsReplaced("primaryContainer.environment.FEATURE_DB_HOST")));
        expect(plan.summary).toMatchObject({ replace: 4, create: 0, delete: 0 });
    }, 120_000);

    it("an instanceType change (the issue's input): both configs replaced and the Endpoint moves", async () => {
        const plan = await planAgainstExample(editedExample("instanceType: ml.m5.large", "instanceType: ml.c5.xlarge"));
        expect(plan.lines).toEqual(
            expect.arrayContaining([
                "replace fraud-detector-config-2 (productionVariants[0].instanceType)",
                "replace fraud-detector-config-3 (productionVariants[0].instanceType)",
                "update fraud-detector-endpoint (endpointConfigName)",
            ]),
        );
        expect(plan.summary).toMatchObject({ replace: 2, create: 0, delete: 0 });
    }, 120_000);

    it("a VPC added (the issue's input): Models, configs and the Endpoint", async () => {
        const plan = await planAgainstExample(
            editedExample(
                "    instanceCount: 2\n",
                "    instanceCount: 2\n    vpc:\n      subnetIds: [subnet-0a1b2c]\n      securityGroupIds: [sg-0a1b2c3d]\n",
            ),
        );
        expect(plan.lines).toEqual(expect.arrayContaining(modelsAndConfigsReplaced("vpcConfig")));
    }, 120_000);

    it("addressEnv renamed: every Model's environment changes, and the rest follows", async () => {
        const plan = await planAgainstExample(editedExample("addressEnv: FEATURE_DB_HOST", "addressEnv: FEATURE_DB_ADDRESS"));
        expect(plan.lines).toEqual(
            expect.arrayContaining([
                "replace fraud-detector-model-2 (primaryContainer.environment.FEATURE_DB_ADDRESS, primaryContainer.environment.FEATURE_DB_HOST)",
                "replace fraud-detector-config-2 (productionVariants[0].modelName)",
                "update fraud-detector-endpoint (endpointConfigName)",
            ]),
        );
    }, 120_000);

    it("a guardrail alarm added: the Endpoint is replaced and its alarms watch the new one", async () => {
        const plan = await planAgainstExample(
            editedExample("# rollbackAlarmNames: [fraud-detector-business-kpi]", "rollbackAlarmNames: [fraud-detector-business-kpi]"),
        );
        expect(plan.lines).toEqual(
            expect.arrayContaining([
                "replace fraud-detector-endpoint (deploymentConfig.autoRollbackConfiguration.alarms)",
                "update fraud-detector-alarms-5xx-rate (metricQueries[0].metric.dimensions.EndpointName, metricQueries[1].metric.dimensions.EndpointName)",
                "update fraud-detector-alarms-latency-p99 (dimensions.EndpointName)",
            ]),
        );
    }, 120_000);

    it("nothing for the example planned against itself: no churn from the names", async () => {
        const plan = await planAgainstExample(path.join(ROOT, SAGEMAKER_EXAMPLE));
        expect(plan.lines).toEqual([]);
    }, 120_000);
});

describe("a replacement drags along what reads it, whatever output it reads (in-process runs)", () => {
    it("shows a parameter whose value is a replaced bucket's `bucket` (not a `name` output the mocks rename)", async () => {
        const run = async (objectLockEnabled: boolean) => {
            const registered = await installRecordingMocks("plan", {}, PLAN_NAMING);
            const bucket = new aws.s3.BucketV2("reports", { objectLockEnabled });
            new aws.ssm.Parameter("reports-bucket", { type: "String", value: bucket.bucket });
            await pulumi.runtime.disconnect();
            return registered;
        };
        const operations = diffRegistrations(await run(false), await run(true));
        expect(operations.find((o) => o.name === "reports")).toMatchObject({ op: "replace" });
        const parameter = operations.find((o) => o.name === "reports-bucket");
        expect(parameter?.changed).toContain("value");
        expect(["update", "replace"]).toContain(parameter?.op);
    });

    it("shows a Deployment that reads a replaced ConfigMap's generated metadata.name, and nothing when nothing is replaced", async () => {
        const run = async (pinned: string) => {
            const registered = await installRecordingMocks("plan", {}, PLAN_NAMING);
            const release = new k8s.core.v1.ConfigMap("release", { immutable: true, data: { pinned } });
            new k8s.apps.v1.Deployment("sidecar", {
                spec: {
                    selector: { matchLabels: { app: "sidecar" } },
                    template: {
                        metadata: { labels: { app: "sidecar" } },
                        spec: {
                            containers: [{ name: "s", image: `r/s@sha256:${"a".repeat(64)}`, envFrom: [{ configMapRef: { name: release.metadata.name } }] }],
                        },
                    },
                },
            });
            await pulumi.runtime.disconnect();
            return registered;
        };
        const changed = diffRegistrations(await run("3"), await run("4"));
        expect(changed.find((o) => o.name === "release")).toMatchObject({ op: "replace" });
        expect(changed.find((o) => o.name === "sidecar")?.changed).toContain("spec");
        expect(diffRegistrations(await run("3"), await run("3"))).toEqual([]);
    });
});
