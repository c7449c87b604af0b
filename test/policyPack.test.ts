/**
 * The policy pack against what the components declare: the program runs under
 * Pulumi's mock runtime (standing for the engine and the AWS provider) for the
 * example stacks and for configs that switch on every optional part, and every
 * registered resource goes through every rule. Then the CrossGuard wiring:
 * exemptions by rule name with a reason.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { ResourceValidationArgs } from "@pulumi/policy";
import { beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { nextSnapshotLedger } from "../database/snapshots";
import { parseExemptions } from "../policy/exemptions";
import { loadActionScopes, loadResourceFormats } from "../policy/iamPolicy";
import { resourcePolicyFor } from "../policy/pack";
import { iamActionPatterns, iamResourcePatterns, SECURITY_RULES, violationsOf, type PolicyResource } from "../policy/rules";
import { recordProgram, type RegisteredResource } from "../plan/mockRuntime";
import { sagemakerRawConfig } from "./helpers";

const NOW = "2026-11-27T12:34:56.789Z";
const MANAGED_INSTANCE = {
    kind: "instance",
    identifier: "fraud-features",
    manage: { engine: "postgres", instanceClass: "db.t4g.medium", allocatedStorageGiB: 50 },
};
const MANAGED_CLUSTER = { kind: "cluster", identifier: "fraud-features", manage: { engine: "aurora-postgresql", instanceClass: "db.r6g.large" } };

/** The stacks whose declared resources must pass every rule with the components' defaults. */
function stackConfigs(): Record<string, Record<string, unknown>> {
    const sagemakerExample = rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml");
    return {
        "sagemaker example": sagemakerExample,
        "kubernetes example": rawConfigFromStackFile("stacks/Pulumi.kubernetes-example.yaml"),
        "sandbox stack": rawConfigFromStackFile("examples/kubernetes/Pulumi.sandbox.yaml"),
        "sagemaker, managed instance, VPC": {
            ...sagemakerExample,
            database: MANAGED_INSTANCE,
            sagemaker: { instanceType: "ml.m5.large", vpc: { subnetIds: ["subnet-0a1b2c3d"], securityGroupIds: ["sg-0a1b2c3d"] } },
        },
        "sagemaker, managed Aurora cluster, NVMe instances": { ...sagemakerExample, database: MANAGED_CLUSTER, sagemaker: { instanceType: "ml.g5.xlarge" } },
        "minimal sagemaker": sagemakerRawConfig(),
        // Hot standby: a two-variant config, the live-weights resource, and the trigger's weights permission.
        "sagemaker, hot standby": {
            ...sagemakerExample,
            sagemaker: { ...(sagemakerExample.sagemaker as Record<string, unknown>), standby: "hot", standbyInstanceCount: 1 },
        },
    };
}

function asPolicyResource(registered: RegisteredResource): PolicyResource {
    return { type: registered.type, name: registered.name, props: registered.inputs, ignoreChanges: registered.options?.ignoreChanges ?? [] };
}

const declared: Record<string, PolicyResource[]> = {};

beforeAll(async () => {
    for (const [name, raw] of Object.entries(stackConfigs())) {
        const config = parseStackConfig(raw);
        // A pin change, so that the database snapshot of the change is declared too.
        const snapshots = config.database === undefined ? undefined : nextSnapshotLedger([], config, { pinned: "2" }, "test", NOW);
        declared[name] = (await recordProgram(config, "test", { snapshots, now: NOW })).map(asPolicyResource);
    }
}, 120_000);

describe("the components with their defaults", () => {
    it("pass every rule of the pack, in every stack", async () => {
        for (const [stack, resources] of Object.entries(declared)) {
            const facts = {
                actionScopes: await loadActionScopes(resources.flatMap(iamActionPatterns)),
                resourceFormats: await loadResourceFormats(resources.flatMap(iamResourcePatterns)),
            };
            const violations = resources.flatMap((resource) => violationsOf(resource, facts).map((v) => `${resource.name}: ${v.rule}: ${v.message}`));
            expect(violations, stack).toEqual([]);
        }
    });

    it("declare a resource for every rule to read, so that passing means something", () => {
        const all = Object.values(declared).flat();
        const unread = SECURITY_RULES.filter((rule) => !all.some((resource) => rule.types.includes(resource.type))).map((rule) => rule.name);
        expect(unread).toEqual([]);
    });

    it("include what the stricter rules look at: a created storage key on configs, an ignoreChanges the rules accept", () => {
        const configs = declared["minimal sagemaker"].filter((r) => r.type === "aws:sagemaker/endpointConfiguration:EndpointConfiguration");
        expect(configs.length).toBeGreaterThan(0);
        for (const config of configs) expect(config.props.kmsKeyArn).toMatch(/fraud-detector-storage-key/);
        const nvme = declared["sagemaker, managed Aurora cluster, NVMe instances"];
        expect(nvme.filter((r) => r.type === "aws:kms/key:Key").map((r) => r.name)).toEqual(["fraud-detector-alarms-topic-key"]);
    });
});

/** What @pulumi/policy's server passes a resource policy (the layer below the wiring under test), for one resource. */
function validationArgs(resource: PolicyResource, config: object, onNotApplicable: (reason: string) => void): ResourceValidationArgs {
    return {
        type: resource.type,
        name: resource.name,
        urn: `urn:pulumi:test::mlops::${resource.type}::${resource.name}`,
        props: resource.props,
        opts: {
            protect: false,
            ignoreChanges: [...resource.ignoreChanges],
            aliases: [],
            customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
            additionalSecretOutputs: [],
        },
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            onNotApplicable(reason ?? "");
            throw new Error("not applicable");
        },
    };
}

async function runPolicy(rule: string, resource: PolicyResource, config: object = {}) {
    const policy = resourcePolicyFor(SECURITY_RULES.find((r) => r.name === rule)!);
    const reported: string[] = [];
    const notApplicable: string[] = [];
    const validate = policy.validateResource as (args: ResourceValidationArgs, report: (message: string) => void) => Promise<void>;
    await validate(
        validationArgs(resource, config, (reason) => notApplicable.push(reason)),
        (message) => reported.push(message),
    ).catch((error: Error) => {
        if (error.message !== "not applicable") throw error;
    });
    return { reported, notApplicable };
}

describe("the CrossGuard policies", () => {
    const tagged: PolicyResource = {
        type: "kubernetes:apps/v1:Deployment",
        name: "tagged",
        props: { spec: { template: { spec: { containers: [{ image: "nginx:1.27" }] } } } },
        ignoreChanges: [],
    };

    it("are mandatory, named after their rule, and take exemptions in their config", () => {
        for (const rule of SECURITY_RULES) {
            const policy = resourcePolicyFor(rule);
            expect([policy.name, policy.enforcementLevel]).toEqual([rule.name, "mandatory"]);
            expect(policy.configSchema?.properties.exemptions).toMatchObject({ items: { required: ["resource", "reason"] } });
        }
    });

    it("report a violation by its rule", async () => {
        expect(await runPolicy("MLOPS_IMAGE_DIGEST", tagged)).toEqual({
            reported: ["spec.template.spec.containers[0].image 'nginx:1.27' is not pinned by digest: use <repository>@sha256:<digest>"],
            notApplicable: [],
        });
    });

    it("let a named resource off one rule with a reason, recorded as not applicable with that reason", async () => {
        const config = { exemptions: [{ resource: "tagged", reason: "upstream image, mirrored nightly; JIRA-123" }] };
        expect(await runPolicy("MLOPS_IMAGE_DIGEST", tagged, config)).toEqual({
            reported: [],
            notApplicable: ["exempt: upstream image, mirrored nightly; JIRA-123"],
        });
        // The exemption is for that resource only (and, being in that rule's config, for that rule only: the e2e test shows the other rule still firing).
        expect((await runPolicy("MLOPS_IMAGE_DIGEST", { ...tagged, name: "other" }, config)).reported).toHaveLength(1);
    });

    it("refuse an exemption without a real reason, and still report the violation", async () => {
        expect(await runPolicy("MLOPS_IMAGE_DIGEST", tagged, { exemptions: [{ resource: "tagged", reason: "because" }] })).toEqual({
            reported: [
                "MLOPS_IMAGE_DIGEST.exemptions[0] (tagged) needs a reason of at least 10 characters",
                "spec.template.spec.containers[0].image 'nginx:1.27' is not pinned by digest: use <repository>@sha256:<digest>",
            ],
            notApplicable: [],
        });
        expect(parseExemptions("CKV_AWS_115", { exemptions: "all" }).problems).toEqual(["CKV_AWS_115.exemptions must be a list of { resource, reason }"]);
        expect(parseExemptions("CKV_AWS_115", { exemptions: [{ reason: "a reason long enough" }] }).problems).toEqual([
            "CKV_AWS_115.exemptions[0].resource must name a resource (its logical name or URN)",
        ]);
    });

    it("load what the IAM rules need themselves: a wildcard ARN, a StartBuild grant and an attached administrator policy are reported", async () => {
        const rolePolicy = (statement: object): PolicyResource => ({
            type: "aws:iam/rolePolicy:RolePolicy",
            name: "broad",
            props: { role: "r", policy: JSON.stringify({ Version: "2012-10-17", Statement: [statement] }) },
            ignoreChanges: [],
        });
        expect(
            (
                await runPolicy(
                    "CKV_AWS_355",
                    rolePolicy({ Sid: "Update", Effect: "Allow", Action: "sagemaker:UpdateEndpoint", Resource: "arn:aws:sagemaker:*:*:*" }),
                )
            ).reported,
        ).toEqual([expect.stringContaining(`policy statement 'Update' allows sagemaker:UpdateEndpoint on "arn:aws:sagemaker:*:*:*"`)]);
        // Every bucket's objects: a wildcard only by S3's ARN formats, which the pack loads from the reference.
        expect((await runPolicy("CKV_AWS_355", rolePolicy({ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::*/*" }))).reported).toHaveLength(
            1,
        );
        const start = rolePolicy({ Effect: "Allow", Action: "codebuild:StartBuild", Resource: "arn:aws:codebuild:us-east-1:123456789012:project/deployer" });
        expect((await runPolicy("MLOPS_START_BUILD_OVERRIDES", start)).reported).toEqual([
            expect.stringContaining("allows codebuild:StartBuild with overrides open"),
        ]);
        const admin: PolicyResource = {
            type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            name: "admin",
            props: { role: "r", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" },
            ignoreChanges: [],
        };
        expect((await runPolicy("CKV_AWS_274", admin)).reported).toHaveLength(1);
    });

    it("carry the package's version: CrossGuard reads the pack's version from policy/package.json", () => {
        const read = (file: string) => JSON.parse(readFileSync(path.join(__dirname, "..", file), "utf8")) as { version: string };
        expect(read("policy/package.json").version).toBe(read("package.json").version);
        expect(readFileSync(path.join(__dirname, "..", "policy", "PulumiPolicy.yaml"), "utf8")).toMatch(/^runtime: nodejs$/m);
    });
});
