import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import {
    deploymentConfigFor,
    executionRolePolicy,
    parseEcrImage,
    rolePolicyVersions,
    SageMakerModelEndpoint,
    type SageMakerModelEndpointArgs,
} from "../components/sagemakerModelEndpoint";
import { parseStackConfig, type StackConfig } from "../config/schema";
import { installRecordingMocks, MOCK_ACCOUNT_ID, type RegisteredResource } from "../plan/mockRuntime";
import { digestFor, ECR_REPOSITORY, findChild, outputValue, sagemakerRawConfig } from "./helpers";

const MODEL = "aws:sagemaker/model:Model";
const ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration";
const ENDPOINT = "aws:sagemaker/endpoint:Endpoint";
const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";

function argsFrom(config: StackConfig, extra: Partial<SageMakerModelEndpointArgs> = {}): SageMakerModelEndpointArgs {
    if (config.sagemaker === undefined) throw new Error("test config needs a sagemaker section");
    return {
        model: config.model,
        versions: config.versions,
        pinned: config.pinned,
        warm: config.warm,
        quarantined: config.quarantined,
        settings: config.sagemaker,
        ...extra,
    };
}

/** Declare the component under mocks (the mocks stand for the engine and the AWS provider) and wait for every registration. */
async function declare(args: SageMakerModelEndpointArgs) {
    const registered = await installRecordingMocks("test");
    const component = new SageMakerModelEndpoint("fraud-detector", args);
    const outputs = {
        endpointName: await outputValue(component.endpointName),
        pinnedVersion: await outputValue(component.pinnedVersion),
        endpointConfigNames: await outputValue(component.endpointConfigNames),
        executionRoleArn: await outputValue(component.executionRoleArn),
        storageKeyArn: await outputValue(component.storageKeyArn),
    };
    await pulumi.runtime.disconnect();
    const byName = (name: string): RegisteredResource => findChild(registered, name);
    return { registered, byName, outputs };
}

const canaryConfig = parseStackConfig(
    sagemakerRawConfig(
        {
            warm: 2,
            quarantined: ["2"],
            sagemaker: {
                instanceType: "ml.m5.xlarge",
                instanceCount: 4,
                variantName: "live",
                kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                deployment: {
                    strategy: "canary",
                    stepPercent: 25,
                    waitIntervalSeconds: 120,
                    bakeTimeSeconds: 900,
                    maximumExecutionTimeoutSeconds: 7200,
                    rollbackAlarmNames: ["fraud-detector-5xx"],
                },
            },
        },
        4,
    ),
);

describe("SageMakerModelEndpoint", () => {
    it("declares exactly these children, by name and type token", async () => {
        const { registered } = await declare(argsFrom(canaryConfig));
        // warm 2 before pin 4 with 2 quarantined: versions 1 and 3 stay warm.
        expect(registered.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
            [
                `${ROLE} fraud-detector-role`,
                `${ROLE_POLICY} fraud-detector-role-policy`,
                `${MODEL} fraud-detector-model-1`,
                `${MODEL} fraud-detector-model-3`,
                `${MODEL} fraud-detector-model-4`,
                `${ENDPOINT_CONFIG} fraud-detector-config-1`,
                `${ENDPOINT_CONFIG} fraud-detector-config-3`,
                `${ENDPOINT_CONFIG} fraud-detector-config-4`,
                `${ENDPOINT} fraud-detector-endpoint`,
            ].sort(),
        );
    });

    it("parents every child to the component, keeps Models and configs in AWS when they leave the program, and makes new Models wait for the role policy", async () => {
        const { registered } = await declare(argsFrom(canaryConfig));
        const componentUrn = "urn:pulumi:test::mlops::mlops:sagemaker:ModelEndpoint::fraud-detector";
        for (const child of registered) expect(child.options?.parent, child.name).toBe(componentUrn);
        const retained = registered.filter((r) => r.options?.retainOnDelete).map((r) => r.name);
        expect(retained.sort()).toEqual(
            [
                "fraud-detector-config-1",
                "fraud-detector-config-3",
                "fraud-detector-config-4",
                "fraud-detector-model-1",
                "fraud-detector-model-3",
                "fraud-detector-model-4",
            ].sort(),
        );
        const policyUrn = `urn:pulumi:test::mlops::mlops:sagemaker:ModelEndpoint$${ROLE_POLICY}::fraud-detector-role-policy`;
        for (const model of registered.filter((r) => r.type === MODEL)) expect(model.options?.dependencies).toContain(policyUrn);
        // The endpoint does not wait for the policy: a warm switch stays one pointer.
        expect(registered.find((r) => r.type === ENDPOINT)?.options?.dependencies).not.toContain(policyUrn);
    });

    it("gives each Model its version's image digest and artifact, network isolation, the role and no fixed name", async () => {
        const { byName } = await declare(argsFrom(canaryConfig));
        for (const [id, index] of [
            ["1", 0],
            ["3", 2],
            ["4", 3],
        ] as const) {
            const model = byName(`fraud-detector-model-${id}`).inputs;
            expect(model).toEqual({
                executionRoleArn: `arn:aws:mock:us-east-1:${MOCK_ACCOUNT_ID}:${ROLE}/fraud-detector-role-mock`,
                enableNetworkIsolation: true,
                primaryContainer: {
                    image: `${ECR_REPOSITORY}@sha256:${digestFor(index)}`,
                    modelDataUrl: `s3://models/fraud-detector/${id}/model.tar.gz`,
                    environment: { MLOPS_MODEL: "fraud-detector", MLOPS_MODEL_VERSION: id },
                },
                tags: { "mlops:model": "fraud-detector", "mlops:version": id },
            });
        }
    });

    it("gives every EndpointConfiguration the same variant name, the instance settings and the KMS key", async () => {
        const { byName } = await declare(argsFrom(canaryConfig));
        for (const id of ["1", "3", "4"]) {
            expect(byName(`fraud-detector-config-${id}`).inputs).toEqual({
                productionVariants: [
                    {
                        variantName: "live",
                        modelName: `fraud-detector-model-${id}-mock`,
                        instanceType: "ml.m5.xlarge",
                        initialInstanceCount: 4,
                        initialVariantWeight: 1,
                    },
                ],
                kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                tags: { "mlops:model": "fraud-detector", "mlops:version": id },
            });
        }
    });

    it("without a key given, creates a rotating storage key kept in AWS when it leaves the program, and every config uses it", async () => {
        const { registered, byName, outputs } = await declare(argsFrom(parseStackConfig(sagemakerRawConfig())));
        const key = byName("fraud-detector-storage-key");
        expect(key.type).toBe("aws:kms/key:Key");
        expect(key.inputs).toEqual({
            description: "Encrypts the endpoint storage volumes of model fraud-detector (managed by mlops-rollback)",
            enableKeyRotation: true,
            deletionWindowInDays: 30,
            tags: { "mlops:model": "fraud-detector" },
        });
        // Retained configs name this key: SageMaker could not start one without it.
        expect(key.options?.retainOnDelete).toBe(true);
        const keyArn = `arn:aws:mock:us-east-1:${MOCK_ACCOUNT_ID}:aws:kms/key:Key/fraud-detector-storage-key-mock`;
        const configs = registered.filter((r) => r.type === ENDPOINT_CONFIG);
        expect(configs.map((config) => config.name).sort()).toEqual(["fraud-detector-config-2", "fraud-detector-config-3"]);
        for (const config of configs) expect(config.inputs.kmsKeyArn, config.name).toBe(keyArn);
        expect(outputs.storageKeyArn).toBe(keyArn);
    });

    it("creates no key on an instance type with local NVMe storage (SageMaker rejects one there), and the configs name none", async () => {
        const { registered, outputs } = await declare(argsFrom(parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.g5.xlarge" } }))));
        expect(registered.filter((r) => r.type === "aws:kms/key:Key")).toEqual([]);
        const configs = registered.filter((r) => r.type === ENDPOINT_CONFIG);
        expect(configs).toHaveLength(2);
        for (const config of configs) expect(config.inputs.kmsKeyArn, config.name).toBeUndefined();
        expect(outputs.storageKeyArn).toBeUndefined();
    });

    it("points the Endpoint at the pinned config with a blue/green canary policy and the rollback alarms", async () => {
        const extraAlarm = pulumi.output("fraud-detector-latency-p99");
        const { byName, outputs } = await declare(argsFrom(canaryConfig, { rollbackAlarmNames: [extraAlarm] }));
        expect(byName("fraud-detector-endpoint").inputs).toEqual({
            endpointConfigName: "fraud-detector-config-4-mock",
            deploymentConfig: {
                blueGreenUpdatePolicy: {
                    trafficRoutingConfiguration: { type: "CANARY", waitIntervalInSeconds: 120, canarySize: { type: "CAPACITY_PERCENT", value: 25 } },
                    terminationWaitInSeconds: 900,
                    maximumExecutionTimeoutInSeconds: 7200,
                },
                autoRollbackConfiguration: { alarms: [{ alarmName: "fraud-detector-5xx" }, { alarmName: "fraud-detector-latency-p99" }] },
            },
            tags: { "mlops:model": "fraud-detector" },
        });
        expect(outputs).toEqual({
            endpointName: "fraud-detector-endpoint-mock",
            pinnedVersion: "4",
            endpointConfigNames: { "1": "fraud-detector-config-1-mock", "3": "fraud-detector-config-3-mock", "4": "fraud-detector-config-4-mock" },
            executionRoleArn: `arn:aws:mock:us-east-1:${MOCK_ACCOUNT_ID}:${ROLE}/fraud-detector-role-mock`,
            // The key given in config: no key is created.
            storageKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        });
    });

    it("on the reconcile run after the fast path, tells the engine to ignore the Endpoint's deploymentConfig, and nothing else", async () => {
        // The trigger restored the endpoint all at once; updating it to the canary policy in config would redeploy it.
        const { registered } = await declare(argsFrom(canaryConfig, { keepLiveDeploymentConfig: true }));
        const ignoring = registered.filter((r) => r.options?.ignoreChanges !== undefined).map((r) => [r.name, r.options?.ignoreChanges]);
        expect(ignoring).toEqual([["fraud-detector-endpoint", ["deploymentConfig"]]]);
    });

    it.each([false, undefined])("with keepLiveDeploymentConfig %s, ignores no change: the policy in config applies", async (keepLiveDeploymentConfig) => {
        const { registered, byName } = await declare(argsFrom(canaryConfig, { keepLiveDeploymentConfig }));
        expect(byName("fraud-detector-endpoint").options).toBeDefined();
        expect(registered.filter((r) => r.options?.ignoreChanges !== undefined).map((r) => r.name)).toEqual([]);
    });

    it("scopes the role to exactly the warm versions' artifact objects and image repositories", async () => {
        const { byName } = await declare(argsFrom(canaryConfig));
        const role = byName("fraud-detector-role").inputs;
        expect(byName("fraud-detector-role-policy").inputs.role).toBe("fraud-detector-role-mock-id");
        expect(JSON.parse(role.assumeRolePolicy as string)).toEqual({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: "sagemaker.amazonaws.com" }, Action: "sts:AssumeRole" }],
        });
        const policy = JSON.parse(byName("fraud-detector-role-policy").inputs.policy as string) as {
            Statement: { Sid: string; Action: string[]; Resource: unknown }[];
        };
        const statement = (sid: string) => policy.Statement.find((s) => s.Sid === sid);
        expect(statement("ReadModelArtifacts")?.Resource).toEqual([
            "arn:aws:s3:::models/fraud-detector/1/model.tar.gz",
            "arn:aws:s3:::models/fraud-detector/3/model.tar.gz",
            "arn:aws:s3:::models/fraud-detector/4/model.tar.gz",
        ]);
        expect(statement("PullModelImages")?.Resource).toEqual(["arn:aws:ecr:us-east-1:123456789012:repository/fraud-detector"]);
        for (const s of policy.Statement) {
            expect(s.Action.every((action) => !action.endsWith("*"))).toBe(true);
            // The one unscopable action keeps its "*"; nothing on s3 or ecr pulls does.
            if (s.Resource === "*") expect(s.Action).toEqual(["ecr:GetAuthorizationToken"]);
        }
    });

    it("creates no role when a role ARN is given, and the Models use it", async () => {
        const roleArn = "arn:aws:iam::123456789012:role/ml-serving";
        const config = parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", executionRoleArn: roleArn } }));
        const { registered, byName } = await declare(argsFrom(config));
        expect(registered.filter((r) => r.type === ROLE || r.type === ROLE_POLICY)).toEqual([]);
        expect(byName("fraud-detector-model-3").inputs.executionRoleArn).toBe(roleArn);
        expect(byName("fraud-detector-model-2").inputs.executionRoleArn).toBe(roleArn);
    });

    it("passes the VPC to every Model and lets the role manage only that VPC's network interfaces", async () => {
        const vpc = { subnetIds: ["subnet-0a1b2c3d"], securityGroupIds: ["sg-0a1b2c3d"] };
        const config = parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", vpc } }));
        const { byName } = await declare(argsFrom(config));
        expect(byName("fraud-detector-model-3").inputs.vpcConfig).toEqual({ subnets: ["subnet-0a1b2c3d"], securityGroupIds: ["sg-0a1b2c3d"] });
        const policy = JSON.parse(byName("fraud-detector-role-policy").inputs.policy as string) as { Statement: { Sid: string; Resource: unknown }[] };
        expect(policy.Statement.find((s) => s.Sid === "ManageEndpointNetworkInterfaces")?.Resource).toEqual([
            "arn:aws:ec2:us-east-1:123456789012:network-interface/*",
            "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0a1b2c3d",
            "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0a1b2c3d",
        ]);
    });

    it("with warm 0 declares only the pinned version", async () => {
        const { registered } = await declare(argsFrom(parseStackConfig(sagemakerRawConfig({ warm: 0 }))));
        expect(registered.filter((r) => r.type === MODEL).map((r) => r.name)).toEqual(["fraud-detector-model-3"]);
    });
});

describe("deploymentConfigFor", () => {
    const base = { waitIntervalSeconds: 300, bakeTimeSeconds: 0, rollbackAlarmNames: [] };

    it("maps a linear strategy to LINEAR with a linear step and no canary", () => {
        const config = deploymentConfigFor({ ...base, strategy: "linear", stepPercent: 20 }, []);
        expect(config.blueGreenUpdatePolicy).toEqual({
            trafficRoutingConfiguration: {
                type: "LINEAR",
                waitIntervalInSeconds: 300,
                canarySize: undefined,
                linearStepSize: { type: "CAPACITY_PERCENT", value: 20 },
            },
            terminationWaitInSeconds: 0,
            maximumExecutionTimeoutInSeconds: undefined,
        });
    });

    it("omits autoRollbackConfiguration when there are no alarms (an empty list is still a different alarm set)", () => {
        expect(deploymentConfigFor({ ...base, strategy: "allAtOnce" }, []).autoRollbackConfiguration).toBeUndefined();
    });

    it("keeps the alarm set when only thresholds would change: names in, names out, in order", () => {
        const config = deploymentConfigFor({ ...base, strategy: "allAtOnce", rollbackAlarmNames: ["a", "b"] }, ["c"]);
        expect(config.autoRollbackConfiguration).toEqual({ alarms: [{ alarmName: "a" }, { alarmName: "b" }, { alarmName: "c" }] });
    });
});

describe("rolePolicyVersions", () => {
    const catalog = (pinned: string, quarantined: string[] = []) => ({
        versions: ["1", "2", "3", "4"].map((version) => ({ version })),
        pinned,
        warm: 1,
        quarantined,
        // No record: the catalog's previous version stands in, as on a first deploy.
        servingHistory: [],
    });

    it("covers the warm versions and keeps a later, non-quarantined version readable while the endpoint may still serve it", () => {
        expect(rolePolicyVersions(catalog("2"))).toEqual(["1", "2", "3", "4"]);
        expect(rolePolicyVersions(catalog("4"))).toEqual(["3", "4"]);
    });

    it("drops a quarantined version (mlops rollback quarantines the one it leaves)", () => {
        expect(rolePolicyVersions(catalog("2", ["3", "4"]))).toEqual(["1", "2"]);
    });
});

describe("executionRolePolicy", () => {
    it("deduplicates repositories and uses the partition given", () => {
        const versions = [
            { version: "1", image: `${ECR_REPOSITORY}@sha256:${digestFor(1)}`, artifact: "s3://bkt/k1" },
            { version: "2", image: `${ECR_REPOSITORY}@sha256:${digestFor(2)}`, artifact: "s3://bkt/k2" },
        ];
        const policy = executionRolePolicy({ partition: "aws-cn", accountId: "210987654321", region: "cn-north-1", versions });
        expect(policy.Statement.map((s) => s.Sid)).toEqual(["ReadModelArtifacts", "PullModelImages", "GetEcrAuthorizationToken", "WriteEndpointLogs"]);
        expect(policy.Statement[0].Resource).toEqual(["arn:aws-cn:s3:::bkt/k1", "arn:aws-cn:s3:::bkt/k2"]);
        expect(policy.Statement[1].Resource).toEqual(["arn:aws-cn:ecr:us-east-1:123456789012:repository/fraud-detector"]);
        expect(policy.Statement[3].Resource).toEqual(["arn:aws-cn:logs:cn-north-1:210987654321:log-group:/aws/sagemaker/Endpoints/*"]);
    });

    it("parses nested ECR repository paths", () => {
        expect(parseEcrImage(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/fraud@sha256:${digestFor(3)}`)).toEqual({
            account: "123456789012",
            region: "eu-west-1",
            repository: "team/fraud",
        });
    });
});
