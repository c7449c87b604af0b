/**
 * EndpointAlarms and AlarmRollbackTrigger as the program declares them for a
 * SageMaker stack with `mlops:alarms` and `mlops:trigger`, under the mock
 * runtime (standing for the engine and the AWS provider).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { alarmEventPattern, bundledTriggerHandler, runnerBuildspec, storageKeyStatements, triggerRolePolicy } from "../components/alarmRollbackTrigger";
import * as pulumi from "@pulumi/pulumi";
import { alarmSpecs, alarmTopicKeyPolicy, compositeAlarmRule, EndpointAlarms, guardrailAlarmNames } from "../components/endpointAlarms";
import { floorAlarmWarnings, missingDataTreatment, parseStackConfig, type CustomAlarmInput, type StackConfigError } from "../config/schema";
import { installRecordingMocks, MOCK_ACCOUNT_ID, recordProgram, type RegisteredResource } from "../plan/mockRuntime";
import { findChild, sagemakerRawConfig } from "./helpers";

const RUNNER_ROLE = `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/pulumi-deployer`;
const alarmsAndTrigger = {
    alarms: { errorRatePercent: 2, latencyP99Ms: 250, clientErrorRatePercent: 20 },
    trigger: {
        runnerRoleArn: RUNNER_ROLE,
        source: { type: "CODECOMMIT", location: "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/infra", version: "refs/heads/main" },
        pulumiSecret: { variable: "PULUMI_ACCESS_TOKEN", secretArn: `arn:aws:secretsmanager:us-east-1:${MOCK_ACCOUNT_ID}:secret:pulumi-token-AbCdEf` },
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
});

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
            ["fraud-detector-trigger-state", "aws:dynamodb/table:Table"],
            ["fraud-detector-trigger-target", "aws:cloudwatch/eventTarget:EventTarget"],
        ]);
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
        expect(runner.source).toMatchObject({ type: "CODECOMMIT", buildspec: runnerBuildspec("sagemaker") });
        expect(runnerBuildspec("sagemaker")).toContain(
            'npx mlops rollback --stack "$MLOPS_STACK" --version "$MLOPS_ROLLBACK_VERSION" --expect-from "$MLOPS_ROLLBACK_FROM" --reason "alarm $MLOPS_ALARM_NAME (event $MLOPS_EVENT_ID)" --yes --after-fast-path\n',
        );
        expect(runnerBuildspec("kubernetes")).toContain('(event $MLOPS_EVENT_ID)" --yes\n');
        // The user's project, with its own dependencies: by default the repository's root.
        expect(runnerBuildspec("kubernetes")).toContain('      - cd "$CODEBUILD_SRC_DIR" && npm ci\n');
        expect(runnerBuildspec("kubernetes")).toContain('      - cd "$CODEBUILD_SRC_DIR" && npx mlops rollback --stack');
        expect(runner.environment.privilegedMode).toBe(false);
        expect(runner.environment.environmentVariables).toEqual([
            { name: "MLOPS_STACK", value: "test", type: "PLAINTEXT" },
            { name: "PULUMI_ACCESS_TOKEN", value: alarmsAndTrigger.trigger.pulumiSecret.secretArn, type: "SECRETS_MANAGER" },
        ]);
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
        expect(bySid.NeverOverrideTheBuildspec).toMatchObject({
            Effect: "Deny",
            Action: ["codebuild:StartBuild"],
            Condition: { Null: { "codebuild:source.buildspec": "false" } },
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
            runnerProjectArn: "p",
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
        const identityPolicies = registered.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy");
        expect(identityPolicies.map((r) => r.name).sort()).toEqual([
            "fraud-detector-role-policy",
            "fraud-detector-trigger-policy",
            "fraud-detector-trigger-self-policy",
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
        const buildspec = runnerBuildspec("kubernetes", "infra/ml");
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
