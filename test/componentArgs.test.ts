/**
 * Component args as a person writes them: only the required fields, the
 * defaults filled in by the stack config's own schema, and bad args refused
 * with a ResourceError that names every bad field by its path. Under the mock
 * runtime (standing for the engine and the providers), as in the other
 * component tests.
 */
import { readdirSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AlarmRollbackTrigger } from "../components/alarmRollbackTrigger";
import { DatabaseSnapshots } from "../components/databaseSnapshots";
import { EndpointAlarms } from "../components/endpointAlarms";
import { KubernetesModelEndpoint } from "../components/kubernetesModelEndpoint";
import { SageMakerModelEndpoint } from "../components/sagemakerModelEndpoint";
import {
    parseAlarmArgs,
    parseDatabaseArgs,
    parseKubernetesArgs,
    parseSageMakerArgs,
    parseStackConfig,
    parseTriggerArgs,
    type ArgsParse,
    type StackConfig,
} from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { installRecordingMocks, MOCK_ACCOUNT_ID, type RegisteredResource } from "../plan/mockRuntime";
import { digestFor, ECR_REPOSITORY, findChild, sagemakerRawConfig } from "./helpers";

const STACKS_DIR = path.join(__dirname, "..", "stacks");
const RUNNER_ROLE = `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/pulumi-deployer`;
const SOURCE = { type: "CODECOMMIT", location: "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/infra" } as const;
/** A stand-in digest: these tests check the args, not the CLI download. */
const PULUMI_CLI = { version: "3.248.0", sha256: "0".repeat(64) };

/** Versions "1".."n" as a person writes them: an ECR image by digest and an S3 artifact. */
function versions(count = 2) {
    return Array.from({ length: count }, (_, index) => ({
        version: String(index + 1),
        image: `${ECR_REPOSITORY}@sha256:${digestFor(index)}`,
        artifact: `s3://models/fraud-detector/${index + 1}/model.tar.gz`,
    }));
}

/** Declare a component under mocks and wait for every registration; `error` is what the constructor threw, if it did. */
async function declare(create: () => unknown): Promise<{ registered: RegisteredResource[]; error: unknown }> {
    const registered = await installRecordingMocks("test");
    let error: unknown;
    try {
        create();
    } catch (thrown) {
        error = thrown;
    }
    await pulumi.runtime.disconnect();
    return { registered, error };
}

/** The args paths a ResourceError's message names, in order; fails unless it is a ResourceError of `heading`. */
function namedPaths(error: unknown, heading: string): string[] {
    expect(pulumi.ResourceError.isInstance(error), String(error)).toBe(true);
    const message = (error as Error).message;
    expect(message.startsWith(`${heading}: `), message).toBe(true);
    return [...message.matchAll(/^ {2}(args[^:]*):/gm)].map((match) => match[1]);
}

describe("SageMakerModelEndpoint args", () => {
    it("needs only the model, the catalog, the pin and the instance type; the schema's defaults reach the children", async () => {
        const { registered, error } = await declare(
            () => new SageMakerModelEndpoint("fraud", { model: "fraud", versions: versions(), pinned: "2", settings: { instanceType: "ml.c5.xlarge" } }),
        );
        expect(error).toBeUndefined();
        // warm defaults to 1: the version before the pin keeps its config.
        expect(registered.filter((r) => r.type === "aws:sagemaker/endpointConfiguration:EndpointConfiguration").map((r) => r.name)).toEqual([
            "fraud-config-1",
            "fraud-config-2",
        ]);
        expect(findChild(registered, "fraud-config-2").inputs.productionVariants).toEqual([
            { variantName: "primary", modelName: "fraud-model-2-mock", instanceType: "ml.c5.xlarge", initialInstanceCount: 1, initialVariantWeight: 1 },
        ]);
        expect(findChild(registered, "fraud-endpoint").inputs.deploymentConfig).toEqual({
            blueGreenUpdatePolicy: { trafficRoutingConfiguration: { type: "ALL_AT_ONCE", waitIntervalInSeconds: 300 }, terminationWaitInSeconds: 0 },
        });
    });

    it("refuses bad args with a ResourceError naming every bad field, and declares nothing", async () => {
        const [first, second] = versions();
        const { registered, error } = await declare(
            () =>
                new SageMakerModelEndpoint("fraud", {
                    model: "fraud",
                    versions: [{ ...first, image: `${ECR_REPOSITORY}:latest` }, second],
                    pinned: "2",
                    quarantined: ["2"],
                    settings: { instanceType: "ml.c5.xlarge", instanceCount: 0, deployment: { strategy: "canary" }, bogus: true } as never,
                }),
        );
        expect(namedPaths(error, "SageMakerModelEndpoint fraud")).toEqual([
            "args.pinned",
            "args.settings.bogus",
            "args.settings.deployment.stepPercent",
            "args.settings.instanceCount",
            "args.versions[0].image",
        ]);
        expect((error as Error).message).toContain("args.pinned: version '2' is quarantined (listed in args.quarantined)");
        expect(registered).toEqual([]);
    });
});

describe("KubernetesModelEndpoint args", () => {
    it("needs no settings at all: namespace default, 2 replicas, port 8080 on the Deployment", async () => {
        const { registered, error } = await declare(() => new KubernetesModelEndpoint("fraud", { model: "fraud", versions: versions(), pinned: "2" }));
        expect(error).toBeUndefined();
        // createNamespace defaults to false; warm to 1.
        expect(registered.map((r) => r.name).sort()).toEqual(["fraud-deployment-1", "fraud-deployment-2", "fraud-pdb", "fraud-service"]);
        const deployment = findChild(registered, "fraud-deployment-2").inputs as {
            metadata: { namespace: string };
            spec: { replicas: number; template: { spec: { containers: { ports: { containerPort: number }[]; resources: unknown }[] } } };
        };
        expect(deployment.metadata.namespace).toBe("default");
        expect(deployment.spec.replicas).toBe(2);
        expect(deployment.spec.template.spec.containers[0].ports[0].containerPort).toBe(8080);
        expect(deployment.spec.template.spec.containers[0].resources).toEqual({
            requests: { cpu: "500m", memory: "1Gi" },
            limits: { cpu: "2", memory: "2Gi" },
        });
        // standbyReplicas defaults to replicas: hot standby.
        expect((findChild(registered, "fraud-deployment-1").inputs as { spec: { replicas: number } }).spec.replicas).toBe(2);
        expect(findChild(registered, "fraud-service").inputs.spec).toMatchObject({ type: "ClusterIP", ports: [{ port: 80 }] });
    });

    it("refuses bad args with a ResourceError naming every bad field, and declares nothing", async () => {
        const [first, second] = versions();
        const { registered, error } = await declare(
            () =>
                new KubernetesModelEndpoint("fraud", {
                    model: "Fraud_Detector",
                    versions: [{ ...first, image: "fraud:latest" }, second],
                    pinned: "3",
                    settings: { replicas: 0, port: 70_000, resources: { requests: { cpu: "4" }, limits: { cpu: "2" } }, replica: 3 } as never,
                }),
        );
        expect(namedPaths(error, "KubernetesModelEndpoint fraud")).toEqual([
            "args.model",
            "args.pinned",
            "args.settings.port",
            "args.settings.replica",
            "args.settings.replicas",
            "args.settings.resources.requests.cpu",
            "args.versions[0].image",
        ]);
        expect((error as Error).message).toContain("args.settings.replica: unknown key; allowed: namespace, createNamespace, replicas,");
        expect(registered).toEqual([]);
    });
});

describe("EndpointAlarms args", () => {
    it("needs only the prefix, the target and the endpoint: default thresholds, periods and variant reach the alarms", async () => {
        const { registered, error } = await declare(
            () => new EndpointAlarms("fraud-alarms", { alarmNamePrefix: "fraud-prod", target: "sagemaker", endpointName: "fraud-ep" }),
        );
        expect(error).toBeUndefined();
        const metricAlarms = registered.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm");
        expect(metricAlarms.map((r) => r.name).sort()).toEqual(["fraud-alarms-5xx-rate", "fraud-alarms-latency-p99"]);
        for (const alarm of metricAlarms) expect(alarm.inputs, alarm.name).toMatchObject({ evaluationPeriods: 3, datapointsToAlarm: 2 });
        expect(findChild(registered, "fraud-alarms-latency-p99").inputs).toMatchObject({
            threshold: 1_000_000,
            period: 60,
            dimensions: { EndpointName: "fraud-ep", VariantName: "primary" },
        });
        expect(findChild(registered, "fraud-alarms-5xx-rate").inputs.threshold).toBe(5);
    });

    it("refuses bad args with a ResourceError naming every bad field, and declares nothing", async () => {
        const { registered, error } = await declare(
            () =>
                new EndpointAlarms("fraud-alarms", {
                    alarmNamePrefix: "fraud-prod",
                    target: "sagemaker",
                    settings: { periodSeconds: 45, datapointsToAlarm: 5, errorRate: 2 } as never,
                }),
        );
        expect(namedPaths(error, "EndpointAlarms fraud-alarms")).toEqual([
            "args.endpointName",
            "args.settings.datapointsToAlarm",
            "args.settings.errorRate",
            // Twice, as in stack config: not a CloudWatch period, and below SageMaker's one-minute metrics.
            "args.settings.periodSeconds",
            "args.settings.periodSeconds",
        ]);
        expect(registered).toEqual([]);
    });
});

describe("AlarmRollbackTrigger args", () => {
    const required = {
        model: "fraud",
        stack: "prod",
        target: "kubernetes",
        alarmName: "fraud-prod-rollback",
        alarmArn: `arn:aws:cloudwatch:us-east-1:${MOCK_ACCOUNT_ID}:alarm:fraud-prod-rollback`,
        topicArn: `arn:aws:sns:us-east-1:${MOCK_ACCOUNT_ID}:fraud-alarms`,
        topicKeyArn: `arn:aws:kms:us-east-1:${MOCK_ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
        pinnedVersion: "2",
    } as const;

    it("needs only the runner role, source and Pulumi CLI in settings: default cooldown, event age, re-checks and log retention reach the children", async () => {
        const { registered, error } = await declare(
            () => new AlarmRollbackTrigger("fraud-trigger", { ...required, settings: { runnerRoleArn: RUNNER_ROLE, source: SOURCE, pulumiCli: PULUMI_CLI } }),
        );
        expect(error).toBeUndefined();
        expect(findChild(registered, "fraud-trigger-logs").inputs.retentionInDays).toBe(30);
        const handler = findChild(registered, "fraud-trigger-function").inputs as { timeout: number; environment: { variables: Record<string, string> } };
        // 4 busy re-checks of 20 s, plus a minute for the calls around them.
        expect(handler.timeout).toBe(4 * 20 + 60);
        expect(handler.environment.variables).toMatchObject({ MLOPS_COOLDOWN_SECONDS: "1800", MLOPS_MAX_EVENT_AGE_SECONDS: "900" });
        expect(findChild(registered, "fraud-trigger-invoke-config").inputs.maximumEventAgeInSeconds).toBe(900);
        expect(findChild(registered, "fraud-trigger-runner").inputs).toMatchObject({
            serviceRole: RUNNER_ROLE,
            source: { type: "CODECOMMIT", location: SOURCE.location },
        });
    });

    it("refuses bad args with a ResourceError naming every bad field, and declares nothing", async () => {
        const { registered, error } = await declare(
            () =>
                new AlarmRollbackTrigger("fraud-trigger", {
                    ...required,
                    settings: { runnerRoleArn: "pulumi-deployer", cooldownSeconds: 10, logRetentionDays: 2, retries: 1 } as never,
                }),
        );
        expect(namedPaths(error, "AlarmRollbackTrigger fraud-trigger")).toEqual([
            "args.settings.cooldownSeconds",
            "args.settings.logRetentionDays",
            "args.settings.pulumiCli",
            "args.settings.retries",
            "args.settings.runnerRoleArn",
            "args.settings.source",
        ]);
        expect(registered).toEqual([]);
    });
});

describe("DatabaseSnapshots args", () => {
    const required = { model: "fraud", stack: "prod", createdAt: "2026-11-27T12:34:56.789Z" };

    it("needs only kind, identifier and what a created cluster must name: default user, backups and safety settings reach the cluster", async () => {
        const { registered, error } = await declare(
            () =>
                new DatabaseSnapshots("fraud-database", {
                    ...required,
                    settings: { kind: "cluster", identifier: "fraud-features", manage: { engine: "aurora-postgresql", instanceClass: "db.r6g.large" } },
                }),
        );
        expect(error).toBeUndefined();
        expect(findChild(registered, "fraud-database-cluster").inputs).toMatchObject({
            clusterIdentifier: "fraud-features",
            masterUsername: "mlops",
            backupRetentionPeriod: 7,
            deletionProtection: true,
            storageEncrypted: true,
        });
        expect(findChild(registered, "fraud-database-writer").inputs).toMatchObject({ identifier: "fraud-features-writer", instanceClass: "db.r6g.large" });
    });

    it("refuses bad args with a ResourceError naming every bad field, and declares nothing", async () => {
        const { registered, error } = await declare(
            () =>
                new DatabaseSnapshots("fraud-database", {
                    ...required,
                    settings: {
                        kind: "instance",
                        identifier: "Fraud_Features",
                        addressEnv: "MLOPS_MODEL",
                        manage: { engine: "aurora-postgresql", instanceClass: "db.r6g.large", backupRetentionDays: 1 },
                        snapshotOnRollback: true,
                    } as never,
                }),
        );
        expect(namedPaths(error, "DatabaseSnapshots fraud-database")).toEqual([
            "args.settings.addressEnv",
            "args.settings.identifier",
            "args.settings.manage.allocatedStorageGiB",
            "args.settings.manage.backupRetentionDays",
            "args.settings.manage.engine",
            "args.settings.snapshotOnRollback",
        ]);
        expect(registered).toEqual([]);
    });
});

describe("a parsed value parses to itself again", () => {
    const success = <T>(result: ArgsParse<T>): T => {
        if (!result.success) throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
        return result.data;
    };

    /** Each section of a parsed stack config, through its component's parse, as program.ts passes it. */
    function sectionsParseToThemselves(config: StackConfig): void {
        const catalog = {
            model: config.model,
            versions: config.versions,
            pinned: config.pinned,
            warm: config.warm,
            quarantined: config.quarantined,
            servingHistory: ["1", config.pinned],
        };
        if (config.sagemaker !== undefined) {
            const args = { ...catalog, settings: config.sagemaker };
            expect(success(parseSageMakerArgs(args, config.model))).toEqual(args);
        }
        if (config.kubernetes !== undefined) {
            const args = { ...catalog, settings: config.kubernetes };
            expect(success(parseKubernetesArgs(args))).toEqual(args);
        }
        if (config.alarms !== undefined) {
            const variantName = config.sagemaker?.variantName ?? "primary";
            const args = { target: config.target, settings: config.alarms, variantName };
            expect(success(parseAlarmArgs({ ...args, endpointName: "endpoint" }))).toEqual(args);
        }
        if (config.trigger !== undefined) {
            const args = { model: config.model, target: config.target, settings: config.trigger };
            expect(success(parseTriggerArgs(args))).toEqual(args);
        }
        if (config.database !== undefined) {
            const args = { model: config.model, settings: config.database };
            expect(success(parseDatabaseArgs(args))).toEqual(args);
        }
    }

    const stackFiles = readdirSync(STACKS_DIR).filter((file) => file.endsWith(".yaml"));

    it("finds the example stacks", () => {
        expect(stackFiles.length).toBeGreaterThan(0);
    });

    it.each(stackFiles)("stacks/%s: the stack config, and each section through its component", (file) => {
        const config = parseStackConfig(rawConfigFromStackFile(path.join(STACKS_DIR, file)));
        expect(parseStackConfig(config)).toEqual(config);
        sectionsParseToThemselves(config);
    });

    it("every section at once: alarms with custom metrics, a trigger, a managed database", () => {
        const config = parseStackConfig(
            sagemakerRawConfig({
                quarantined: [1],
                sagemaker: { instanceType: "ml.m5.large", deployment: { strategy: "linear", stepPercent: 20, rollbackAlarmNames: ["kpi"] } },
                alarms: { clientErrorRatePercent: 10, custom: [{ name: "queue-depth", namespace: "Acme", metricName: "depth", threshold: 10 }] },
                trigger: { runnerRoleArn: RUNNER_ROLE, source: SOURCE, pulumiCli: PULUMI_CLI },
                database: {
                    kind: "instance",
                    identifier: "fraud-features",
                    manage: { engine: "postgres", instanceClass: "db.t4g.medium", allocatedStorageGiB: 50 },
                },
            }),
        );
        expect(parseStackConfig(config)).toEqual(config);
        sectionsParseToThemselves(config);
    });

    it("for any kubernetes settings the schema accepts, parse(parse(x)) equals parse(x)", () => {
        const quantity = fc.constantFrom("250m", "1", "2", "512Mi", "1Gi", "4Gi");
        const settings = fc.record(
            {
                namespace: fc.constantFrom("default", "fraud", "ml-serving"),
                createNamespace: fc.boolean(),
                replicas: fc.integer({ min: 1, max: 10 }),
                standbyReplicas: fc.integer({ min: 0, max: 10 }),
                port: fc.integer({ min: 1, max: 65_535 }),
                serviceType: fc.constantFrom("ClusterIP", "NodePort", "LoadBalancer"),
                readinessPath: fc.constantFrom("/ready", "/v2/health/ready"),
                startupTimeoutSeconds: fc.integer({ min: 10, max: 3600 }),
                rolloutTimeoutSeconds: fc.integer({ min: 30, max: 7200 }),
                resources: fc.record({ requests: fc.record({ cpu: quantity, memory: quantity }, { requiredKeys: [] }) }, { requiredKeys: [] }),
            },
            { requiredKeys: [] },
        );
        fc.assert(
            fc.property(settings, fc.integer({ min: 0, max: 5 }), (written, warm) => {
                const once = parseKubernetesArgs({ model: "fraud", versions: versions(3), pinned: "3", warm, settings: written });
                if (!once.success) return;
                expect(parseKubernetesArgs(once.data)).toEqual(once);
            }),
        );
    });

    it("for any deployment policy the schema accepts, parse(parse(x)) equals parse(x)", () => {
        const deployment = fc.record(
            {
                strategy: fc.constantFrom("allAtOnce", "canary", "linear"),
                stepPercent: fc.integer({ min: 1, max: 50 }),
                waitIntervalSeconds: fc.integer({ min: 0, max: 3600 }),
                bakeTimeSeconds: fc.integer({ min: 0, max: 3600 }),
                rollbackAlarmNames: fc.uniqueArray(fc.constantFrom("a", "b", "c"), { maxLength: 3 }),
            },
            { requiredKeys: [] },
        );
        fc.assert(
            fc.property(deployment, fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }), (written, instanceCount) => {
                const settings = { instanceType: "ml.m5.large", deployment: written, ...(instanceCount === undefined ? {} : { instanceCount }) };
                const once = parseSageMakerArgs({ model: "fraud", versions: versions(3), pinned: "3", settings }, "fraud");
                if (!once.success) return;
                expect(parseSageMakerArgs(once.data, "fraud")).toEqual(once);
            }),
        );
    });
});
