import { ProductionVariantInstanceType } from "@aws-sdk/client-sagemaker";
import { describe, expect, it } from "vitest";
import {
    deploymentChangeWarnings,
    deploymentDuration,
    deploymentPolicyWarnings,
    GUARDRAIL_EXCLUSIONS_URL,
    guardrailsExcludedBy,
    isInf1,
    PROVIDER_ENDPOINT_WAIT_SECONDS,
    REPORTED_NEW_FLEET_SECONDS,
    shiftSteps,
    waitsBeforeFullShift,
    type DeploymentTiming,
} from "../config/deploymentPolicy";
import { parseSageMakerArgs, parseStackConfig, StackConfigError, type ConfigProblem } from "../config/schema";
import { sagemakerRawConfig } from "./helpers";

function problemsOf(raw: unknown): ConfigProblem[] {
    try {
        parseStackConfig(raw);
    } catch (error) {
        if (error instanceof StackConfigError) return [...error.problems];
        throw error;
    }
    return [];
}

const withSagemaker = (sagemaker: Record<string, unknown>, overrides: Record<string, unknown> = {}) =>
    sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", ...sagemaker }, ...overrides });

/** The issue's input: linear 10% steps, 900 s waits, a 3600 s bake, 10 instances. */
const ISSUE_POLICY: DeploymentTiming = { strategy: "linear", stepPercent: 10, waitIntervalSeconds: 900, bakeTimeSeconds: 3600 };

describe("shiftSteps and waitsBeforeFullShift: how many steps a shift takes", () => {
    it.each([
        ["all at once", { strategy: "allAtOnce" }, 4, { fewest: 1, most: 1 }],
        ["a canary on 2 or more instances", { strategy: "canary", stepPercent: 25 }, 4, { fewest: 2, most: 2 }],
        ["a canary on 1 instance may already be the whole fleet", { strategy: "canary", stepPercent: 50 }, 1, { fewest: 1, most: 2 }],
        ["linear 10% of 10: one instance a step", { strategy: "linear", stepPercent: 10 }, 10, { fewest: 10, most: 10 }],
        ["linear 30% of 10: three a step", { strategy: "linear", stepPercent: 30 }, 10, { fewest: 4, most: 4 }],
        ["linear 50% of 3 rounds either way", { strategy: "linear", stepPercent: 50 }, 3, { fewest: 2, most: 3 }],
        ["linear on 1 instance: one step", { strategy: "linear", stepPercent: 20 }, 1, { fewest: 1, most: 1 }],
    ] as const)("%s", (_, deployment, instanceCount, steps) => {
        expect(shiftSteps(deployment, instanceCount)).toEqual(steps);
        expect(waitsBeforeFullShift(deployment, instanceCount)).toEqual({ fewest: steps.fewest - 1, most: steps.most - 1 });
    });
});

describe("deploymentDuration: the worked example of config/deploymentPolicy.ts", () => {
    it("the issue's linear policy: 10 steps × 900 s + 3600 s bake + a new fleet = 13110..13500 s, all traffic moved after 9 waits", () => {
        const duration = deploymentDuration(ISSUE_POLICY, 10);
        expect(duration).toEqual({
            steps: { fewest: 10, most: 10 },
            waits: { low: 9000, high: 9000 },
            bake: 3600,
            newFleet: REPORTED_NEW_FLEET_SECONDS,
            total: { low: 510 + 9000 + 3600, high: 900 + 9000 + 3600 },
        });
        expect(waitsBeforeFullShift(ISSUE_POLICY, 10)).toEqual({ fewest: 9, most: 9 });
    });

    it("the default policy (all at once, one 300 s bake after the shift) takes 810..1200 s", () => {
        expect(deploymentDuration({ strategy: "allAtOnce", waitIntervalSeconds: 300, bakeTimeSeconds: 0 }, 1).total).toEqual({ low: 810, high: 1200 });
    });
});

describe("a deployment policy longer than the provider waits (60 min)", () => {
    const deploymentProblems = (deployment: Record<string, unknown>, instanceCount = 10) =>
        problemsOf(withSagemaker({ instanceCount, deployment })).filter((p) => p.path === "mlops:sagemaker.deployment");

    it("the provider's wait is the fixed 60 minutes of terraform-provider-aws's waitEndpointInService", () => {
        expect(PROVIDER_ENDPOINT_WAIT_SECONDS).toBe(3600);
    });

    it("refuses the issue's policy, with the arithmetic", () => {
        const [problem] = deploymentProblems(ISSUE_POLICY);
        expect(problem.message).toContain("up to 13500 s (3 h 45 min)");
        expect(problem.message).toContain("up to 900 s as users report it");
        expect(problem.message).toContain("10 steps (linear, 10% of 10 instances) × waitIntervalSeconds 900 s = 9000 s");
        expect(problem.message).toContain("+ bakeTimeSeconds 3600 s");
        expect(problem.message).toContain("waits a fixed 3600 s (60 min)");
        expect(problem.message).toContain("internal/service/sagemaker/endpoint.go");
    });

    it("accepts a policy that ends just under the wait, refuses one that ends at it (900 + 2 × 600 + bake)", () => {
        const linearOnTwo = { strategy: "linear", stepPercent: 50, waitIntervalSeconds: 600 };
        expect(deploymentProblems({ ...linearOnTwo, bakeTimeSeconds: 1499 }, 2)).toEqual([]);
        const [over] = deploymentProblems({ ...linearOnTwo, bakeTimeSeconds: 1500 }, 2);
        expect(over.message).toContain("up to 3600 s (1 h): a new fleet, up to 900 s as users report it, + 2 steps (linear, 50% of 2 instances)");
    });

    it("counts the most steps where rounding leaves it open (50% of 3 instances: 2 or 3 steps)", () => {
        const policy = { strategy: "linear", stepPercent: 50, waitIntervalSeconds: 800, bakeTimeSeconds: 0 };
        // 900 + 3 × 800 = 3300: under; with 2 steps it would be 2500.
        expect(deploymentProblems(policy, 3)).toEqual([]);
        expect(deploymentProblems({ ...policy, waitIntervalSeconds: 900 }, 3)[0].message).toContain("2-3 steps");
    });

    it("an all-at-once policy waits once after its one step: 3600 s of wait alone is refused", () => {
        expect(deploymentProblems({ strategy: "allAtOnce", waitIntervalSeconds: 3600 }, 1)[0].message).toContain("1 step (all at once)");
    });

    it("the component refuses it too, named by its args path", () => {
        const versions = (sagemakerRawConfig().versions as unknown[]).slice();
        const parsed = parseSageMakerArgs(
            { model: "fraud", versions, pinned: "3", settings: { instanceType: "ml.m5.large", instanceCount: 10, deployment: ISSUE_POLICY } },
            "fraud",
        );
        expect(parsed.success).toBe(false);
        expect(parsed.success ? [] : parsed.problems.map((p) => p.path)).toContain("args.settings.deployment");
    });
});

describe("guardrails on Inf1: AWS's deployment-guardrails exclusions", () => {
    it("names exactly the Inf1 types of the SageMaker SDK (Inf2 is not excluded)", () => {
        const all = Object.values(ProductionVariantInstanceType);
        expect(all.filter(isInf1).sort()).toEqual(all.filter((type) => type.startsWith("ml.inf1.")).sort());
        expect(all.filter(isInf1).length).toBeGreaterThan(0);
        expect(isInf1("ml.inf2.xlarge")).toBe(false);
        expect(guardrailsExcludedBy({ instanceType: "ml.inf1.xlarge" })).toContain(GUARDRAIL_EXCLUSIONS_URL);
        expect(guardrailsExcludedBy({ instanceType: "ml.m5.large" })).toBeUndefined();
    });

    it("refuses the issue's input, Inf1 with a canary and a bake, naming mlops:sagemaker.instanceType and the AWS rule", () => {
        const problems = problemsOf(
            withSagemaker({ instanceType: "ml.inf1.xlarge", instanceCount: 2, deployment: { strategy: "canary", stepPercent: 50, bakeTimeSeconds: 600 } }),
        );
        expect(problems).toEqual([{ path: "mlops:sagemaker.instanceType", message: expect.stringContaining("Inf1 (Inferentia)") }]);
        expect(problems[0].message).toContain("deployment.strategy canary, deployment.bakeTimeSeconds 600 would never act");
        expect(problems[0].message).toContain(GUARDRAIL_EXCLUSIONS_URL);
    });

    it.each([
        ["a linear shift", { strategy: "linear", stepPercent: 50 }, "deployment.strategy linear"],
        ["a bake alone", { bakeTimeSeconds: 300 }, "deployment.bakeTimeSeconds 300"],
        ["rollback alarms of your own", { rollbackAlarmNames: ["fraud-kpi"] }, "deployment.rollbackAlarmNames"],
    ])("refuses %s on Inf1", (_, deployment, named) => {
        const problems = problemsOf(withSagemaker({ instanceType: "ml.inf1.2xlarge", instanceCount: 2, deployment }));
        expect(problems.map((p) => p.path)).toEqual(["mlops:sagemaker.instanceType"]);
        expect(problems[0].message).toContain(`${named} would never act`);
    });

    it("accepts Inf1 with the default all-at-once policy, and the same policies on Inf2", () => {
        expect(problemsOf(withSagemaker({ instanceType: "ml.inf1.xlarge" }))).toEqual([]);
        const canary = { strategy: "canary", stepPercent: 50, bakeTimeSeconds: 600, rollbackAlarmNames: ["fraud-kpi"] };
        expect(problemsOf(withSagemaker({ instanceType: "ml.inf2.xlarge", instanceCount: 2, deployment: canary }))).toEqual([]);
    });

    it("warns where the exclusion silently drops guardrails the alarms and the default wait would have", () => {
        const inf1 = (alarms: Record<string, unknown> | undefined) =>
            deploymentPolicyWarnings(parseStackConfig(withSagemaker({ instanceType: "ml.inf1.xlarge" }, alarms === undefined ? {} : { alarms })));
        expect(inf1({})).toEqual([{ path: "mlops:sagemaker.instanceType", message: expect.stringContaining("the 300 s wait after the shift do nothing") }]);
        expect(inf1({ feedGuardrails: false })).toEqual([]);
        expect(inf1(undefined)).toEqual([]);
        expect(deploymentPolicyWarnings(parseStackConfig(withSagemaker({}, { alarms: {} })))).toEqual([]);
    });
});

describe("guardrails on a renamed variant", () => {
    const config = (variantName: string) => parseStackConfig(withSagemaker({ variantName }));

    it("warns that the update shifts all at once with no bake, naming mlops:sagemaker.variantName", () => {
        expect(deploymentChangeWarnings(config("primary"), config("live"))).toEqual([
            { path: "mlops:sagemaker.variantName", message: expect.stringContaining("changes from 'primary' to 'live'") },
        ]);
        expect(deploymentChangeWarnings(config("primary"), config("live"))[0].message).toContain(GUARDRAIL_EXCLUSIONS_URL);
    });

    it("says nothing when the name stays", () => {
        expect(deploymentChangeWarnings(config("primary"), config("primary"))).toEqual([]);
    });
});

describe("guardrails when the endpoint config's variants change (hot standby on or off)", () => {
    const config = (sagemaker: Record<string, unknown>) => parseStackConfig(withSagemaker(sagemaker));

    it("turning hot standby on adds a variant: warns, naming mlops:sagemaker.standby and both sets of names", () => {
        expect(deploymentChangeWarnings(config({}), config({ standby: "hot" }))).toEqual([
            {
                path: "mlops:sagemaker.standby",
                message: expect.stringContaining(
                    "the endpoint config's variants change from 'primary' to 'primary', 'standby' (mlops:sagemaker.standby cold -> hot)",
                ),
            },
        ]);
        expect(deploymentChangeWarnings(config({ standby: "hot" }), config({}))[0].message).toContain("(mlops:sagemaker.standby hot -> cold)");
    });

    it("renaming the standby variant under hot: warns, naming mlops:sagemaker.standbyVariantName", () => {
        expect(deploymentChangeWarnings(config({ standby: "hot" }), config({ standby: "hot", standbyVariantName: "spare" }))).toEqual([
            { path: "mlops:sagemaker.standbyVariantName", message: expect.stringContaining("from 'primary', 'standby' to 'primary', 'spare', and SageMaker") },
        ]);
    });

    it("says nothing when hot stays hot with the same names, or a cold stack renames the unused standby name", () => {
        expect(deploymentChangeWarnings(config({ standby: "hot" }), config({ standby: "hot", standbyInstanceCount: 1 }))).toEqual([]);
        expect(deploymentChangeWarnings(config({}), config({ standbyVariantName: "spare" }))).toEqual([]);
    });
});
