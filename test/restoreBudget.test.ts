import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { deploymentDuration } from "../config/deploymentPolicy";
import { parseStackConfig, type StackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import {
    FIGURE_SOURCES,
    formatSeconds,
    HOURS_PER_MONTH,
    hotStandbyVersion,
    pathTotal,
    renderRestoreBudget,
    restoreBudget,
    type BudgetStep,
    type RestoreBudget,
    type RestorePath,
    type RestorePathKind,
} from "../plan/restoreBudget";
import { sagemakerRawConfig } from "./helpers";

/** No serving record (a first deploy): the catalog's previous version is the rollback target, as these budgets assume. */
const FIRST_DEPLOY: readonly string[] = [];

/** The repository's stacks/, and the sandbox stack of the example user project. */
const example = (stack: string): StackConfig =>
    parseStackConfig(
        rawConfigFromStackFile(
            stack === "sandbox"
                ? path.join(__dirname, "..", "examples", "kubernetes", "Pulumi.sandbox.yaml")
                : path.join(__dirname, "..", "stacks", `Pulumi.${stack}.yaml`),
        ),
    );

const TRIGGER = {
    runnerRoleArn: "arn:aws:iam::123456789012:role/pulumi-deployer",
    source: { type: "CODECOMMIT", location: "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/ml-infra" },
    pulumiCli: { version: "3.248.0", sha256: "0".repeat(64) },
};

/** A Kubernetes config with versions 1..3 pinned to 3, warm 1. */
function kubernetesConfig(overrides: Record<string, unknown> = {}): StackConfig {
    const { versions } = sagemakerRawConfig();
    return parseStackConfig({ target: "kubernetes", model: "fraud-detector", pinned: "3", warm: 1, versions, kubernetes: { replicas: 3 }, ...overrides });
}

const containerInsightsAlarm = { name: "restarts", namespace: "ContainerInsights", metricName: "pod_number_of_container_restarts", threshold: 3 };

function pathOf(budget: RestoreBudget, kind: RestorePathKind): RestorePath {
    const found = budget.paths.find((p) => p.kind === kind);
    if (found === undefined) throw new Error(`no ${kind} path in ${budget.paths.map((p) => p.kind).join(", ")}`);
    return found;
}

const figures = (steps: readonly BudgetStep[]) =>
    steps.map((s) => [s.phase, s.seconds === undefined ? null : [s.seconds.low, s.seconds.high], s.basis, s.source]);

describe("restoreBudget: the SageMaker example", () => {
    // Computed per test, not once for the describe block: `npm run test:mutation` can then tell which test covers which line.
    let budget: RestoreBudget;
    beforeEach(() => {
        budget = restoreBudget(example("sagemaker-example"), FIRST_DEPLOY);
    });

    it("has the guardrail, trigger and by-hand paths, restoring version 2", () => {
        expect(budget.pinned).toBe("3");
        expect(budget.rollbackVersion).toBe("2");
        expect(budget.noAutomaticRestore).toBeUndefined();
        expect(budget.paths.map((p) => p.title)).toEqual([
            "During a deployment's bake: SageMaker's guardrails shift traffic back to the old fleet",
            "After the bake: the alarm trigger moves the endpoint to version 2",
            "By hand: mlops rollback --version 2",
        ]);
    });

    it("times the trigger path from the config (2 of 3 × 60 s), AWS's documents and user reports, and counts what it leaves out", () => {
        const trigger = pathOf(budget, "trigger");
        expect(figures(trigger.steps)).toEqual([
            ["detect", [60, 120], "config", "alarmEvaluation"],
            ["detect", [0, 60], "documented", "alarmEvaluation"],
            ["detect", [0, 60], "documented", "sagemakerMetrics"],
            ["detect", null, "not estimated", "compositeAlarm"],
            ["trigger", null, "not estimated", "compositeAlarm"],
            ["trigger", [0.5, 0.5], "documented", "eventBridgeLatency"],
            ["trigger", null, "not estimated", "lambdaColdStart"],
            ["trigger", [0.1, 1], "documented", "lambdaColdStart"],
            ["trigger", null, "not estimated", "triggerHandler"],
            ["restore", [510, 900], "reported", "sagemakerNewFleet"],
        ]);
        const total = pathTotal(trigger);
        expect(total.seconds.low).toBeCloseTo(570.6);
        expect(total.seconds.high).toBeCloseTo(1141.5);
        expect(total.notEstimated.map((s) => s.source)).toEqual(["compositeAlarm", "compositeAlarm", "lambdaColdStart", "triggerHandler"]);
        expect(trigger.steps.at(-1)?.what).toBe(
            "SageMaker starts a new fleet (2 × ml.m5.large) for version 2's config and shifts traffic to it all at once (as reported for CreateEndpoint)",
        );
    });

    it("does not count the busy re-checks: after them the trigger restores nothing, and the note says so", () => {
        expect(pathOf(budget, "trigger").notes).toEqual([
            "If SageMaker is still changing the endpoint, the handler re-checks it 4 times 20 s apart and then restores nothing: SageMaker's own rollback, or a person, must act.",
        ]);
    });

    it("by hand: a person, the Pulumi update, the new fleet and the example's canary wait (one 300 s wait on 2 instances), with the guardrails' risk noted", () => {
        const byHand = pathOf(budget, "byHand");
        expect(figures(byHand.steps)).toEqual([
            ["start", null, "not estimated", "byHand"],
            ["restore", null, "not estimated", "pulumiUpdate"],
            ["restore", [510, 900], "reported", "sagemakerNewFleet"],
            ["restore", [300, 300], "config", "sagemakerTrafficShift"],
        ]);
        expect(byHand.notes).toEqual([
            "The stack's deployment policy applies, guardrails included: while its alarms are still in ALARM because of version 3, SageMaker can roll this update back during the bake, and mlops rollback then fails, saying what serves. The alarm trigger's fast path avoids that by shifting all at once without a bake.",
        ]);
    });

    it("leaves SageMaker's own shift back to the old fleet unestimated, and has no composite alarm step (guardrails watch the metric alarms)", () => {
        const guardrails = pathOf(budget, "guardrails");
        expect(guardrails.steps.map((s) => s.source)).toEqual(["alarmEvaluation", "alarmEvaluation", "sagemakerMetrics", "sagemakerGuardrails"]);
        expect(guardrails.steps.at(-1)?.seconds).toBeUndefined();
    });
});

describe("restoreBudget: detection follows the alarm settings", () => {
    it("a 10 s period with 1 data point: 0-10 s of data, evaluated every 10 s; a note that Container Insights publishes once a minute", () => {
        const alarms = { periodSeconds: 10, evaluationPeriods: 3, datapointsToAlarm: 1, custom: [containerInsightsAlarm] };
        const trigger = pathOf(restoreBudget(kubernetesConfig({ alarms, trigger: TRIGGER }), FIRST_DEPLOY), "trigger");
        expect(figures(trigger.steps.filter((s) => s.phase === "detect"))).toEqual([
            ["detect", [0, 10], "config", "alarmEvaluation"],
            ["detect", [0, 10], "documented", "alarmEvaluation"],
            ["detect", [0, 60], "documented", "containerInsightsInterval"],
            ["detect", null, "not estimated", "compositeAlarm"],
        ]);
        expect(trigger.steps[1].what).toBe("CloudWatch evaluates the alarm every 10 s");
        expect(trigger.notes[0]).toBe(
            "A 10 s alarm period is shorter than Container Insights' default 60 s interval: most periods then have no data and treatMissingData decides, so detection can take longer than shown.",
        );
    });

    it("5 of 5 periods of 300 s take 20 to 25 min of bad data", () => {
        const config = parseStackConfig(sagemakerRawConfig({ alarms: { periodSeconds: 300, evaluationPeriods: 5, datapointsToAlarm: 5 } }));
        expect(pathOf(restoreBudget(config, FIRST_DEPLOY), "guardrails").steps[0].seconds).toEqual({ low: 1200, high: 1500 });
    });

    it("alarms on a namespace of your own: the publishing interval is not estimated", () => {
        const alarm = { ...containerInsightsAlarm, name: "latency", namespace: "Acme/FraudDetector" };
        const publish = pathOf(
            restoreBudget(kubernetesConfig({ alarms: { custom: [containerInsightsAlarm, alarm] }, trigger: TRIGGER }), FIRST_DEPLOY),
            "trigger",
        ).steps[2];
        expect([publish.seconds, publish.basis, publish.what]).toEqual([
            undefined,
            "not estimated",
            "your publisher's interval for ContainerInsights, Acme/FraudDetector",
        ]);
    });
});

describe("restoreBudget: SageMaker's guardrails", () => {
    /** `alarms: null` leaves mlops:alarms out. */
    const withDeployment = (deployment: Record<string, unknown>, alarms: Record<string, unknown> | null = {}) =>
        restoreBudget(
            parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", deployment }, ...(alarms === null ? {} : { alarms }) })),
            FIRST_DEPLOY,
        );

    it("restore only when the deployment bakes: a wait after the shift (the default 300 s) or a final bake", () => {
        expect(withDeployment({}).paths.map((p) => p.kind)).toEqual(["guardrails", "byHand"]);
        expect(withDeployment({ waitIntervalSeconds: 0, bakeTimeSeconds: 600 }).paths.map((p) => p.kind)).toEqual(["guardrails", "byHand"]);
        const noBake = withDeployment({ waitIntervalSeconds: 0, bakeTimeSeconds: 0 });
        expect(noBake.paths.map((p) => p.kind)).toEqual(["byHand"]);
        expect(noBake.noAutomaticRestore).toBe("without mlops:trigger the alarms only notify people: add mlops:trigger for an automatic restore");
    });

    it("are fed by your own rollbackAlarmNames too, whose detection is not estimated", () => {
        const budget = withDeployment({ rollbackAlarmNames: ["fraud-detector-business-kpi"] }, null);
        expect(figures(pathOf(budget, "guardrails").steps)).toEqual([
            ["detect", null, "not estimated", "alarmEvaluation"],
            ["restore", null, "not estimated", "sagemakerGuardrails"],
        ]);
        expect(budget.noAutomaticRestore).toBe(
            "without mlops:trigger, alarms restore traffic only during a deployment's bake (SageMaker's guardrails); otherwise they notify people",
        );
    });

    it("with feedGuardrails false and no alarm names of yours, nothing feeds them: the alarms only notify", () => {
        const budget = withDeployment({}, { feedGuardrails: false });
        expect(budget.paths.map((p) => p.kind)).toEqual(["byHand"]);
        expect(budget.noAutomaticRestore).toBe("without mlops:trigger the alarms only notify people: add mlops:trigger for an automatic restore");
        expect(pathOf(budget, "byHand").notes).toEqual([]);
    });
});

describe("restoreBudget: Kubernetes", () => {
    it("with a trigger: a reconcile build whose start and install are not estimated; the default standby is hot and loads no model", () => {
        const config = kubernetesConfig({ alarms: { custom: [containerInsightsAlarm] }, trigger: TRIGGER });
        expect(config.kubernetes?.standbyReplicas).toBeUndefined();
        const budget = restoreBudget(config, FIRST_DEPLOY);
        expect(budget.paths.map((p) => [p.kind, p.title])).toEqual([
            ["trigger", "The alarm trigger starts a reconcile build of mlops rollback --version 2"],
            ["byHand", "By hand: mlops rollback --version 2"],
        ]);
        expect(figures(budget.paths[0].steps)).toEqual([
            ["detect", [60, 120], "config", "alarmEvaluation"],
            ["detect", [0, 60], "documented", "alarmEvaluation"],
            ["detect", [0, 60], "documented", "containerInsightsInterval"],
            ["detect", null, "not estimated", "compositeAlarm"],
            ["trigger", null, "not estimated", "compositeAlarm"],
            ["trigger", [0.5, 0.5], "documented", "eventBridgeLatency"],
            ["trigger", null, "not estimated", "lambdaColdStart"],
            ["trigger", [0.1, 1], "documented", "lambdaColdStart"],
            ["trigger", null, "not estimated", "triggerHandler"],
            ["restore", null, "not estimated", "codebuildStart"],
            ["restore", null, "not estimated", "reconcileInstall"],
            ["restore", null, "not estimated", "instantSwitch"],
            ["restore", null, "not estimated", "endpointSlices"],
            ["restore", [0, 1], "documented", "kubeProxySync"],
            ["restore", null, "not estimated", "kubeProxySync"],
        ]);
        expect(budget.paths[0].steps[11].what).toBe(
            "mlops rollback moves the Service's selector to version 2 with one compare-and-set write: its 3 pods are running and ready (hot standby)",
        );
        expect(budget.paths[0].notes).toEqual([
            "With mlops:trigger.eks (an EKS cluster), the handler moves the Service itself, without waiting for the build.",
            "Connections kept alive stay on the old pods until they close.",
            "A Pulumi update then records the rollback in the stack; it runs after traffic has moved, off the restore's path.",
        ]);
    });

    it("with mlops:trigger.eks and a hot standby: the handler moves the Service itself; the build only records it", () => {
        const config = kubernetesConfig({ alarms: { custom: [containerInsightsAlarm] }, trigger: { ...TRIGGER, eks: { clusterName: "prod" } } });
        const trigger = pathOf(restoreBudget(config, FIRST_DEPLOY), "trigger");
        expect(trigger.title).toBe("The alarm trigger moves the Service to version 2 (EKS instant switch)");
        expect(figures(trigger.steps).slice(9)).toEqual([
            ["restore", null, "not estimated", "instantSwitch"],
            ["restore", null, "not estimated", "endpointSlices"],
            ["restore", [0, 1], "documented", "kubeProxySync"],
            ["restore", null, "not estimated", "kubeProxySync"],
        ]);
        expect(trigger.steps[9].what).toBe(
            "the handler moves the Service's selector to version 2 with one compare-and-set write: its 3 pods are running and ready (hot standby)",
        );
        expect(trigger.notes).toContain(
            "The reconcile build (CodeBuild, npm ci, mlops rollback) then records the rollback in the stack; it runs after traffic has moved, off the restore's path.",
        );
        // A partial standby without rollbackAtReducedCapacity: the handler leaves the switch to the build's update.
        const partial = kubernetesConfig({
            kubernetes: { replicas: 3, standbyReplicas: 1 },
            alarms: { custom: [containerInsightsAlarm] },
            trigger: { ...TRIGGER, eks: { clusterName: "prod" } },
        });
        expect(pathOf(restoreBudget(partial, FIRST_DEPLOY), "trigger").title).toBe("The alarm trigger starts a reconcile build of mlops rollback --version 2");
    });

    it("with partial standby (1 of 3) the target's new pods must start and load the model, bounded by the rollout timeout", () => {
        const config = kubernetesConfig({ kubernetes: { replicas: 3, standbyReplicas: 1, startupTimeoutSeconds: 120 } });
        const byHand = pathOf(restoreBudget(config, FIRST_DEPLOY), "byHand");
        expect(figures(byHand.steps)).toEqual([
            ["start", null, "not estimated", "byHand"],
            ["restore", [0, 420], "config", "kubernetesRollout"],
            ["restore", null, "not estimated", "pulumiUpdate"],
            ["restore", null, "not estimated", "endpointSlices"],
            ["restore", [0, 1], "documented", "kubeProxySync"],
            ["restore", null, "not estimated", "kubeProxySync"],
        ]);
        expect(byHand.steps[1].what).toBe("version 2 scales from 1 to 3 pods, which must start and load the model (the update fails after 420 s)");
        expect(byHand.notes).toContain(
            "With mlops:kubernetes.rollbackAtReducedCapacity: true, traffic would move at once to version 2's 1 ready pods, and the update would scale up behind it.",
        );
        // At reduced capacity: the instant switch to the 1 ready pod, and the scale-up is off the restore's path.
        const reduced = kubernetesConfig({ kubernetes: { replicas: 3, standbyReplicas: 1, rollbackAtReducedCapacity: true } });
        const reducedByHand = pathOf(restoreBudget(reduced, FIRST_DEPLOY), "byHand");
        expect(figures(reducedByHand.steps).map((step) => step[3])).toEqual(["byHand", "instantSwitch", "endpointSlices", "kubeProxySync", "kubeProxySync"]);
        expect(reducedByHand.steps[1].what).toBe(
            "mlops rollback moves the Service's selector to version 2's 1 ready pods of 3 (rollbackAtReducedCapacity), one compare-and-set write",
        );
        expect(reducedByHand.notes).toContain("Until the update has scaled version 2 to 3 pods, 1 serve all the traffic.");
        const explicit = kubernetesConfig({ kubernetes: { replicas: 3, standbyReplicas: 0, rolloutTimeoutSeconds: 90 } });
        expect(pathOf(restoreBudget(explicit, FIRST_DEPLOY), "byHand").steps[1].seconds).toEqual({ low: 0, high: 90 });
    });
});

describe("restoreBudget: which version, and what restores nothing", () => {
    it("says why there is no automatic restore: no alarms; alarms without a trigger", () => {
        expect(restoreBudget(kubernetesConfig(), FIRST_DEPLOY).noAutomaticRestore).toBe(
            "no mlops:alarms, so nothing watches the endpoint: add mlops:alarms and mlops:trigger for an automatic restore",
        );
        expect(restoreBudget(kubernetesConfig({ alarms: { custom: [containerInsightsAlarm] } }), FIRST_DEPLOY).noAutomaticRestore).toBe(
            "without mlops:trigger the alarms only notify people: add mlops:trigger for an automatic restore",
        );
    });

    it("skips a quarantined version: with 2 quarantined and warm 2 the trigger restores 1", () => {
        const budget = restoreBudget(parseStackConfig(sagemakerRawConfig({ warm: 2, quarantined: ["2"], alarms: {}, trigger: TRIGGER })), FIRST_DEPLOY);
        expect(budget.rollbackVersion).toBe("1");
        expect(pathOf(budget, "trigger").title).toBe("After the bake: the alarm trigger moves the endpoint to version 1");
    });

    it("warm 0: the trigger fails closed, and by hand the rollback is cold", () => {
        const budget = restoreBudget(parseStackConfig(sagemakerRawConfig({ warm: 0, alarms: {}, trigger: TRIGGER })), FIRST_DEPLOY);
        expect(budget.rollbackVersion).toBeUndefined();
        const trigger = pathOf(budget, "trigger");
        expect([trigger.steps, trigger.restoresNothing]).toEqual([[], "no warm version precedes 3, so the trigger fails closed and changes nothing"]);
        expect(pathOf(budget, "byHand").restoresNothing).toBe(
            "no warm version to roll back to from 3: a rollback to 2 builds it first (a cold rollback, not budgeted here)",
        );
    });

    it("the first version pinned: nothing to roll back to", () => {
        expect(restoreBudget(example("sandbox"), FIRST_DEPLOY).paths).toEqual([
            {
                kind: "byHand",
                title: "By hand: mlops rollback",
                steps: [],
                notes: [],
                restoresNothing: "no version precedes 1 that may be pinned, so there is nothing to roll back to",
            },
        ]);
    });
});

describe("restoreBudget: the traffic shift of a rollback by hand on SageMaker", () => {
    const shift = (deployment: Record<string, unknown>, instanceCount = 1) =>
        pathOf(
            restoreBudget(parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", instanceCount, deployment } })), FIRST_DEPLOY),
            "byHand",
        ).steps.slice(3);

    it("all at once: no wait after the fleet is up", () => {
        expect(shift({ strategy: "allAtOnce", waitIntervalSeconds: 600 }, 4)).toEqual([]);
    });

    it("one instance moves in one step whatever the percentage; a canary of one instance may or may not wait", () => {
        expect(shift({ strategy: "linear", stepPercent: 20, waitIntervalSeconds: 60 })).toEqual([]);
        expect(figures(shift({ strategy: "canary", stepPercent: 10, waitIntervalSeconds: 60 }))).toEqual([
            ["restore", [0, 60], "config", "sagemakerTrafficShift"],
        ]);
    });

    it("linear: 20% of 5 instances is one per step, four waits; 30% of 10 is three per step, three waits", () => {
        expect(figures(shift({ strategy: "linear", stepPercent: 20, waitIntervalSeconds: 60 }, 5))).toEqual([
            ["restore", [240, 240], "config", "sagemakerTrafficShift"],
        ]);
        expect(shift({ strategy: "linear", stepPercent: 30, waitIntervalSeconds: 100 }, 10)[0].seconds).toEqual({ low: 300, high: 300 });
    });

    it("linear 50% of 3 instances rounds one way or the other: one or two waits", () => {
        const [step] = shift({ strategy: "linear", stepPercent: 50, waitIntervalSeconds: 100 }, 3);
        expect([step.seconds, step.what]).toEqual([
            { low: 100, high: 200 },
            "the linear shift (50% of 3 instances per step) waits 1-2 × 100 s before all traffic is on the new fleet",
        ]);
    });
});

describe("restoreBudget: no guardrail path where AWS excludes the deployment from guardrails", () => {
    const sagemaker = (settings: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
        parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", instanceCount: 2, ...settings }, alarms: {}, ...extra }));

    it("Inf1: alarms and the default wait would feed the guardrails, but the path is dropped, says why, and no rollback note warns of them", () => {
        const budget = restoreBudget(sagemaker({ instanceType: "ml.inf1.xlarge" }), FIRST_DEPLOY);
        expect(budget.paths.map((p) => p.kind)).toEqual(["byHand"]);
        expect(budget.guardrailsOff).toContain("ml.inf1.xlarge is an Inf1 (Inferentia) instance type");
        expect(budget.noAutomaticRestore).toBe("without mlops:trigger the alarms only notify people: add mlops:trigger for an automatic restore");
        expect(pathOf(budget, "byHand").notes).toEqual([]);
        expect(renderRestoreBudget(budget)).toContain(`  No restore by SageMaker's guardrails: ${budget.guardrailsOff}.`);
    });

    it("the same config on Inf2 keeps the guardrail path", () => {
        const budget = restoreBudget(sagemaker({ instanceType: "ml.inf2.xlarge" }), FIRST_DEPLOY);
        expect(budget.paths.map((p) => p.kind)).toEqual(["guardrails", "byHand"]);
        expect(budget.guardrailsOff).toBeUndefined();
    });

    it("a renamed variant (plan --against): this deployment has no guardrail path, a later rollback by hand still runs under them", () => {
        const policy = { deployment: { strategy: "canary", stepPercent: 50, bakeTimeSeconds: 600 } };
        const renamed = restoreBudget(sagemaker({ ...policy, variantName: "live" }), FIRST_DEPLOY, {
            deployedFrom: sagemaker({ ...policy, variantName: "primary" }),
        });
        expect(renamed.paths.map((p) => p.kind)).toEqual(["byHand"]);
        expect(renamed.guardrailsOff).toContain("the variant name changes from 'primary' to 'live'");
        expect(pathOf(renamed, "byHand").notes[0]).toContain("The stack's deployment policy applies, guardrails included");
        const kept = restoreBudget(sagemaker({ ...policy, variantName: "live" }), FIRST_DEPLOY, {
            deployedFrom: sagemaker({ ...policy, variantName: "live" }),
        });
        expect(kept.paths.map((p) => p.kind)).toEqual(["guardrails", "byHand"]);
        expect(kept.guardrailsOff).toBeUndefined();
    });

    it("says nothing of exclusions when nothing asked for guardrails", () => {
        expect(restoreBudget(sagemaker({ instanceType: "ml.inf1.xlarge" }, { alarms: undefined }), FIRST_DEPLOY).guardrailsOff).toBeUndefined();
    });
});

describe("restoreBudget and the provider-wait check count a shift the same way", () => {
    it.each([
        ["linear", 20, 5],
        ["linear", 50, 3],
        ["canary", 50, 1],
        ["canary", 25, 4],
    ] as const)("%s, step %s, on %s instances: the by-hand shift waits one wait less than the deployment's steps", (strategy, stepPercent, instanceCount) => {
        const deployment = { strategy, stepPercent, waitIntervalSeconds: 60, bakeTimeSeconds: 0 };
        const config = parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", instanceCount, deployment } }));
        const byHand = pathOf(restoreBudget(config, FIRST_DEPLOY), "byHand");
        const shift = byHand.steps.find((s) => s.source === "sagemakerTrafficShift")?.seconds ?? { low: 0, high: 0 };
        const { steps } = deploymentDuration(deployment, instanceCount);
        expect(shift).toEqual({ low: (steps.fewest - 1) * 60, high: (steps.most - 1) * 60 });
    });
});

describe("FIGURE_SOURCES", () => {
    it("every source is cited by some step of the budgets of these configs", () => {
        const budgets = [
            restoreBudget(example("sagemaker-example"), FIRST_DEPLOY),
            restoreBudget(
                kubernetesConfig({ kubernetes: { replicas: 3, standbyReplicas: 1 }, alarms: { custom: [containerInsightsAlarm] }, trigger: TRIGGER }),
                FIRST_DEPLOY,
            ),
            restoreBudget(kubernetesConfig(), FIRST_DEPLOY),
            // standby: hot, whose rollback is a weights call (sagemakerWeights).
            restoreBudget(parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", standby: "hot" } })), FIRST_DEPLOY),
        ];
        const cited = new Set(budgets.flatMap((budget) => budget.paths.flatMap((p) => p.steps.map((s) => s.source))));
        expect([...cited].sort()).toEqual(Object.keys(FIGURE_SOURCES).sort());
    });

    it("a figure that is documented or reported points at a web page", () => {
        const budget = restoreBudget(kubernetesConfig({ alarms: { custom: [containerInsightsAlarm] }, trigger: TRIGGER }), FIRST_DEPLOY);
        const steps = [...budget.paths, ...restoreBudget(example("sagemaker-example"), FIRST_DEPLOY).paths].flatMap((p) => p.steps);
        const sourced = steps.filter((step) => step.basis === "documented" || step.basis === "reported");
        expect(sourced.length).toBeGreaterThan(0);
        for (const step of sourced)
            expect(
                FIGURE_SOURCES[step.source].urls.some((url) => url.startsWith("https://")),
                step.source,
            ).toBe(true);
    });
});

describe("renderRestoreBudget", () => {
    it("prints each path's total, the steps it leaves out, every step's figure, basis and source, and the notes", () => {
        const text = renderRestoreBudget(restoreBudget(example("sagemaker-example"), FIRST_DEPLOY)).join("\n");
        expect(text).toContain("Time to restore if version 3 goes bad (estimated; the source of every figure is in BENCHMARKS.md):");
        expect(text).toContain("  After the bake: the alarm trigger moves the endpoint to version 2: 9 min 31 s to 19 min 2 s, plus 4 steps not estimated");
        expect(text).toContain(
            "    restore 8 min 30 s to 15 min   SageMaker starts a new fleet (2 × ml.m5.large) for version 2's config and shifts traffic to it all at once (as reported for CreateEndpoint)  [reported; sagemakerNewFleet]",
        );
        expect(text).toContain("    trigger ~0.5 s                 EventBridge delivers it to the Lambda (typical)  [documented; eventBridgeLatency]");
        expect(text).toContain("  By hand: mlops rollback --version 2: 13 min 30 s to 20 min, plus 2 steps not estimated");
        expect(text).toContain("    Note: If SageMaker is still changing the endpoint, the handler re-checks it 4 times 20 s apart and then restores nothing");
    });

    it("says why there is no automatic restore", () => {
        expect(renderRestoreBudget(restoreBudget(example("kubernetes-example"), FIRST_DEPLOY))).toEqual([
            "Time to restore if version 3 goes bad (estimated; the source of every figure is in BENCHMARKS.md):",
            "  No automatic restore: no mlops:alarms, so nothing watches the endpoint: add mlops:alarms and mlops:trigger for an automatic restore.",
            "  By hand: mlops rollback --version 2: 0 s to 1 s, plus 4 steps not estimated",
            "    start   not estimated          someone decides and runs it  [not estimated; byHand]",
            "    restore not estimated          mlops rollback moves the Service's selector to version 2 with one compare-and-set write: its 3 pods are running and ready (hot standby)  [not estimated; instantSwitch]",
            "    restore not estimated          the EndpointSlice controller lists only version 2's pods  [not estimated; endpointSlices]",
            "    restore 0 s to 1 s             kube-proxy's next sync on each node (iptables mode, default minimum sync period)  [documented; kubeProxySync]",
            "    restore not estimated          the sync itself  [not estimated; kubeProxySync]",
            "    Note: Connections kept alive stay on the old pods until they close.",
            "    Note: A Pulumi update then records the rollback in the stack; it runs after traffic has moved, off the restore's path.",
        ]);
    });
});

describe("formatSeconds", () => {
    it.each([
        [0, "0 s"],
        [0.5, "0.5 s"],
        [45, "45 s"],
        [60, "1 min"],
        [570.6, "9 min 31 s"],
        [3600, "1 h"],
        [3900, "1 h 5 min"],
    ])("%s s is %s", (seconds, text) => {
        expect(formatSeconds(seconds)).toBe(text);
    });
});

describe("restoreBudget: what each step says (mlops plan prints these words)", () => {
    const whats = (path: RestorePath) => path.steps.map((s) => s.what);
    const TRIGGER_STEPS = [
        "the composite alarm follows its metric alarm",
        "CloudWatch hands the composite alarm's state change to EventBridge",
        "EventBridge delivers it to the Lambda (typical)",
        "the event waits in Lambda's asynchronous queue",
        "Lambda starts the handler (a typical cold start)",
        "the handler's checks and calls",
    ];

    it("SageMaker: detection of a 1-minute alarm, the trigger's hops, SageMaker's own shift back, and the canary policy of a rollback by hand", () => {
        const budget = restoreBudget(example("sagemaker-example"), FIRST_DEPLOY);
        const detection = [
            "2 of 3 data points of 60 s breach (a period less if the fault fails the period it starts in)",
            "CloudWatch evaluates the alarm every minute",
            "SageMaker publishes the endpoint's invocation metrics once a minute",
        ];
        expect(whats(pathOf(budget, "guardrails"))).toEqual([
            ...detection,
            "SageMaker shifts traffic back to the old fleet, which still runs until the bake ends",
        ]);
        expect(whats(pathOf(budget, "trigger"))).toEqual([
            ...detection,
            ...TRIGGER_STEPS,
            "SageMaker starts a new fleet (2 × ml.m5.large) for version 2's config and shifts traffic to it all at once (as reported for CreateEndpoint)",
        ]);
        expect(whats(pathOf(budget, "byHand"))).toEqual([
            "someone decides and runs it",
            "mlops rollback's Pulumi update reaches UpdateEndpoint",
            "SageMaker starts a new fleet (2 × ml.m5.large) for version 2's config and shifts traffic to it by its canary policy (as reported for CreateEndpoint)",
            "the canary shift (50% of 2 instances per step) waits 1 × 300 s before all traffic is on the new fleet",
        ]);
    });

    it("SageMaker fed by your own alarm names only: their detection, and a rollback by hand shifting all at once", () => {
        const config = parseStackConfig(
            sagemakerRawConfig({ alarms: { feedGuardrails: false }, sagemaker: { instanceType: "ml.m5.large", deployment: { rollbackAlarmNames: ["kpi"] } } }),
        );
        const budget = restoreBudget(config, FIRST_DEPLOY);
        expect(whats(pathOf(budget, "guardrails"))[0]).toBe("your rollbackAlarmNames alarms go to ALARM");
        expect(whats(pathOf(budget, "byHand"))[2]).toBe(
            "SageMaker starts a new fleet (1 × ml.m5.large) for version 2's config and shifts traffic to it all at once (as reported for CreateEndpoint)",
        );
    });

    it("Kubernetes with partial standby: Container Insights, the reconcile build, the scale-up, then the Service's move", () => {
        const config = kubernetesConfig({ kubernetes: { replicas: 3, standbyReplicas: 1 }, alarms: { custom: [containerInsightsAlarm] }, trigger: TRIGGER });
        const trigger = pathOf(restoreBudget(config, FIRST_DEPLOY), "trigger");
        expect(whats(trigger)).toEqual([
            "2 of 3 data points of 60 s breach (a period less if the fault fails the period it starts in)",
            "CloudWatch evaluates the alarm every minute",
            "the CloudWatch agent publishes Container Insights metrics once a minute (its default)",
            ...TRIGGER_STEPS,
            "CodeBuild queues and provisions the reconcile build",
            "the build installs the Pulumi CLI and runs npm ci",
            "version 2 scales from 1 to 3 pods, which must start and load the model (the update fails after 900 s)",
            "mlops rollback's Pulumi update moves the Service to version 2's pods",
            "the EndpointSlice controller lists only version 2's pods",
            "kube-proxy's next sync on each node (iptables mode, default minimum sync period)",
            "the sync itself",
        ]);
    });

    it("a publisher of your own is a detection step with no figure, sourced like Container Insights' interval", () => {
        const alarm = { ...containerInsightsAlarm, name: "latency", namespace: "Acme/FraudDetector" };
        const publish = pathOf(restoreBudget(kubernetesConfig({ alarms: { custom: [alarm] }, trigger: TRIGGER }), FIRST_DEPLOY), "trigger").steps[2];
        expect(publish).toEqual({
            phase: "detect",
            what: "your publisher's interval for Acme/FraudDetector",
            basis: "not estimated",
            source: "containerInsightsInterval",
        });
    });

    it("warm 0: the trigger names no version, on either target, and has no steps or notes", () => {
        const sagemaker = pathOf(restoreBudget(parseStackConfig(sagemakerRawConfig({ warm: 0, alarms: {}, trigger: TRIGGER })), FIRST_DEPLOY), "trigger");
        expect([sagemaker.title, sagemaker.notes]).toEqual(["After the bake: the alarm trigger moves the endpoint to version (none)", []]);
        const kubernetes = pathOf(
            restoreBudget(kubernetesConfig({ warm: 0, alarms: { custom: [containerInsightsAlarm] }, trigger: TRIGGER }), FIRST_DEPLOY),
            "trigger",
        );
        expect([kubernetes.title, kubernetes.steps, kubernetes.notes]).toEqual([
            "The alarm trigger starts a reconcile build of mlops rollback --version (none)",
            [],
            [],
        ]);
    });

    it("counts a shift's waits as one number when the rounding cannot change it", () => {
        const config = parseStackConfig(
            sagemakerRawConfig({
                sagemaker: { instanceType: "ml.m5.large", instanceCount: 5, deployment: { strategy: "linear", stepPercent: 20, waitIntervalSeconds: 60 } },
            }),
        );
        expect(pathOf(restoreBudget(config, FIRST_DEPLOY), "byHand").steps[3].what).toBe(
            "the linear shift (20% of 5 instances per step) waits 4 × 60 s before all traffic is on the new fleet",
        );
    });
});

describe("renderRestoreBudget: paths that restore nothing, and totals", () => {
    it("says a path restores nothing, and why, instead of a total; and says nothing of an automatic restore that exists", () => {
        const lines = renderRestoreBudget(restoreBudget(parseStackConfig(sagemakerRawConfig({ warm: 0, alarms: {}, trigger: TRIGGER })), FIRST_DEPLOY));
        expect(lines[1]).toBe(
            "  During a deployment's bake: SageMaker's guardrails shift traffic back to the old fleet: 1 min to 4 min, plus 1 step not estimated",
        );
        expect(lines.slice(-2)).toEqual([
            "  After the bake: the alarm trigger moves the endpoint to version (none): restores nothing: no warm version precedes 3, so the trigger fails closed and changes nothing.",
            "  By hand: mlops rollback: restores nothing: no warm version to roll back to from 3: a rollback to 2 builds it first (a cold rollback, not budgeted here).",
        ]);
        expect(lines.some((line) => line.includes("No automatic restore"))).toBe(false);
    });

    it("prints a path whose every step has a figure with its total alone", () => {
        const budget: RestoreBudget = {
            pinned: "3",
            paths: [
                {
                    kind: "byHand",
                    title: "By hand",
                    steps: [{ phase: "restore", what: "the switch", seconds: { low: 1, high: 2 }, basis: "config", source: "kubeProxySync" }],
                    notes: [],
                },
            ],
        };
        expect(renderRestoreBudget(budget).slice(1)).toEqual([
            "  By hand: 1 s to 2 s",
            "    restore 1 s to 2 s             the switch  [config; kubeProxySync]",
        ]);
    });
});

describe("restoreBudget: SageMaker hot standby (mlops:sagemaker.standby)", () => {
    /** Versions 1..3 pinned to 3, alarms and the trigger, ml.g5.xlarge × 2 under the example's canary policy; `sagemaker` adds to that section. */
    const sagemaker = (settings: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
        parseStackConfig(
            sagemakerRawConfig({
                sagemaker: {
                    instanceType: "ml.g5.xlarge",
                    instanceCount: 2,
                    deployment: { strategy: "canary", stepPercent: 50, waitIntervalSeconds: 300, bakeTimeSeconds: 600 },
                    ...settings,
                },
                alarms: {},
                trigger: TRIGGER,
                ...extra,
            }),
        );
    const sources = (path: RestorePath) => path.steps.map((s) => s.source);
    const DETECTION_AND_TRIGGER = [
        "alarmEvaluation",
        "alarmEvaluation",
        "sagemakerMetrics",
        "compositeAlarm",
        "compositeAlarm",
        "eventBridgeLatency",
        "lambdaColdStart",
        "lambdaColdStart",
        "triggerHandler",
    ];

    it("cold (the default): both paths start a new fleet, and the by-hand path waits for the canary shift", () => {
        const budget = restoreBudget(sagemaker(), FIRST_DEPLOY);
        expect(sources(pathOf(budget, "trigger"))).toEqual([...DETECTION_AND_TRIGGER, "sagemakerNewFleet"]);
        expect(sources(pathOf(budget, "byHand"))).toEqual(["byHand", "pulumiUpdate", "sagemakerNewFleet", "sagemakerTrafficShift"]);
    });

    it("hot: the trigger keeps detection, alarm, EventBridge and Lambda, then one weights call instead of the new fleet; its figure is not estimated", () => {
        const trigger = pathOf(restoreBudget(sagemaker({ standby: "hot" }), FIRST_DEPLOY), "trigger");
        expect(trigger.title).toBe("After the bake: the alarm trigger moves the endpoint to version 2");
        expect(figures(trigger.steps).slice(-1)).toEqual([["restore", null, "not estimated", "sagemakerWeights"]]);
        expect(sources(trigger)).toEqual([...DETECTION_AND_TRIGGER, "sagemakerWeights"]);
        expect(trigger.steps.at(-1)?.what).toBe(
            "the handler moves all traffic to variant standby (version 2, 2 × ml.g5.xlarge running, hot standby) with one UpdateEndpointWeightsAndCapacities call",
        );
        // The weights call adds nothing to the total: only detection and the trigger's hops have figures.
        const total = pathTotal(trigger);
        expect(total.seconds.low).toBeCloseTo(60.6);
        expect(total.seconds.high).toBeCloseTo(241.5);
        expect(total.notEstimated.map((s) => s.source)).toEqual(["compositeAlarm", "compositeAlarm", "lambdaColdStart", "triggerHandler", "sagemakerWeights"]);
        expect(trigger.notes).toEqual([
            "If SageMaker is still changing the endpoint, the handler re-checks it 4 times 20 s apart and then restores nothing: SageMaker's own rollback, or a person, must act.",
            "After this rollback no version is on hot standby until the next deploy: version 3 (quarantined) keeps running at weight 0 beside version 2, on 2 × ml.g5.xlarge (1460 instance-hours a month while it does), until a forward deploy replaces the endpoint config.",
        ]);
    });

    it("hot by hand: a person, then the weights call; no Pulumi update, new fleet or canary wait on the restore's path, and no guardrails risk", () => {
        const byHand = pathOf(restoreBudget(sagemaker({ standby: "hot" }), FIRST_DEPLOY), "byHand");
        expect(figures(byHand.steps)).toEqual([
            ["start", null, "not estimated", "byHand"],
            ["restore", null, "not estimated", "sagemakerWeights"],
        ]);
        expect(byHand.steps[1].what).toBe(
            "mlops rollback moves all traffic to variant standby (version 2, 2 × ml.g5.xlarge running, hot standby) with one UpdateEndpointWeightsAndCapacities call, confirmed with DescribeEndpoint",
        );
        expect(byHand.notes).toEqual([
            "A Pulumi update then records the rollback in the stack; it runs after traffic has moved, off the restore's path.",
            "The weights call is not a deployment (it takes no deployment config): all traffic moves in the one call, outside the stack's canary policy and SageMaker's guardrails, which are UpdateEndpoint's.",
            "After this rollback no version is on hot standby until the next deploy: version 3 (quarantined) keeps running at weight 0 beside version 2, on 2 × ml.g5.xlarge (1460 instance-hours a month while it does), until a forward deploy replaces the endpoint config.",
        ]);
        // All at once with no bake: nothing of the policy to mention.
        const plain = pathOf(
            restoreBudget(sagemaker({ standby: "hot", deployment: { strategy: "allAtOnce", waitIntervalSeconds: 0, bakeTimeSeconds: 0 } }), FIRST_DEPLOY),
            "byHand",
        );
        expect(plain.notes).toHaveLength(2);
        expect(plain.notes.some((note) => note.includes("not a deployment"))).toBe(false);
    });

    it("the standby's own variant name, and the guardrail path during a deployment's bake, are as configured", () => {
        const budget = restoreBudget(sagemaker({ standby: "hot", standbyVariantName: "fallback" }), FIRST_DEPLOY);
        expect(pathOf(budget, "byHand").steps[1].what).toContain("moves all traffic to variant fallback (version 2,");
        expect(sources(pathOf(budget, "guardrails")).at(-1)).toBe("sagemakerGuardrails");
    });

    it("a partial standby (1 of 2): by hand it is raised to 2 instances first; the handler raises it in its one weights call, and says what AWS leaves open", () => {
        const budget = restoreBudget(sagemaker({ standby: "hot", standbyInstanceCount: 1 }), FIRST_DEPLOY);
        expect(figures(pathOf(budget, "byHand").steps)).toEqual([
            ["start", null, "not estimated", "byHand"],
            ["restore", null, "not estimated", "sagemakerWeights"],
            ["restore", null, "not estimated", "sagemakerWeights"],
        ]);
        expect(pathOf(budget, "byHand").steps.map((s) => s.what)).toEqual([
            "someone decides and runs it",
            "mlops rollback raises variant standby (version 2) from 1 to 2 instances with UpdateEndpointWeightsAndCapacities, and SageMaker adds the instances (partial standby)",
            "mlops rollback moves all traffic to variant standby (version 2, 2 × ml.g5.xlarge running, hot standby) with one UpdateEndpointWeightsAndCapacities call, confirmed with DescribeEndpoint",
        ]);
        // A Lambda does not wait minutes for instances: weight and count go in one call (trigger/handleAlarmEvent.ts, atReducedCapacity).
        const trigger = pathOf(budget, "trigger");
        expect(sources(trigger)).toEqual([...DETECTION_AND_TRIGGER, "sagemakerWeights"]);
        expect(trigger.steps.at(-1)?.what).toBe(
            "the handler moves all traffic to variant standby (version 2, 1 × ml.g5.xlarge running, hot standby) and raises it to 2 instances, in one UpdateEndpointWeightsAndCapacities call (partial standby)",
        );
        expect(trigger.notes).toContain(
            "The handler moves the weight and raises the count in one call (a Lambda does not wait minutes for instances); AWS does not say whether the weight applies before SageMaker has added the instances, so version 2 may serve all traffic on 1 instance until then, or traffic may move only once 2 run.",
        );
        // The raise starts instances as a new fleet does: minutes, and the way to avoid it.
        const raise =
            "Raising variant standby from 1 to 2 instances starts and loads instances as a new fleet does: AWS publishes no time for it, and users report 8.5 to 15 min for CreateEndpoint (sagemakerNewFleet). With standbyInstanceCount equal to instanceCount (2) the rollback is the weights call alone.";
        expect(pathOf(budget, "byHand").notes).toContain(raise);
        expect(trigger.notes).toContain(raise);
        expect(pathOf(restoreBudget(sagemaker({ standby: "hot" }), FIRST_DEPLOY), "trigger").notes).toHaveLength(2);
        // A full-size standby is not raised.
        const full = restoreBudget(sagemaker({ standby: "hot", standbyInstanceCount: 2 }), FIRST_DEPLOY);
        expect(sources(pathOf(full, "byHand"))).toEqual(["byHand", "sagemakerWeights"]);
        expect(pathOf(full, "byHand").notes.some((note) => note.startsWith("Raising"))).toBe(false);
    });

    it("after a rollback within the config the stack records ({3, 2}, pinned 2), the next target (1) is not a variant of it: its paths are cold", () => {
        const running = {
            instanceType: "ml.g5.xlarge",
            createdFor: "3",
            variants: [
                { variantName: "primary", version: "3", initialWeight: 1, initialInstanceCount: 2 },
                { variantName: "standby", version: "2", initialWeight: 0, initialInstanceCount: 2 },
            ],
        };
        const rolledBack = sagemaker({ standby: "hot" }, { pinned: "2", quarantined: ["3"] });
        const budget = restoreBudget(rolledBack, ["1", "2"], { endpointVariants: running });
        expect(budget.rollbackVersion).toBe("1");
        expect(sources(pathOf(budget, "byHand"))).toContain("sagemakerNewFleet");
        expect(sources(pathOf(budget, "byHand"))).not.toContain("sagemakerWeights");
        expect(hotStandbyVersion(rolledBack, ["1", "2"], running)).toBeUndefined();
        // Without the record, the config alone says 1 would be on hot standby.
        expect(hotStandbyVersion(rolledBack, ["1", "2"])).toBe("1");
        // With the record holding the target, the hot path stays.
        expect(sources(pathOf(restoreBudget(sagemaker({ standby: "hot" }), ["2", "3"], { endpointVariants: running }), "byHand"))).toContain(
            "sagemakerWeights",
        );
    });

    it("warm 2: the hot standby is the default rollback target (2), never the older warm version (1), whose rollback stays cold", () => {
        const hot = sagemaker({ standby: "hot" }, { warm: 2 });
        const served = ["1", "2", "3"];
        expect(hotStandbyVersion(hot, served)).toBe("2");
        expect(restoreBudget(hot, served).rollbackVersion).toBe("2");
        // 2 quarantined: 1 is the rollback target, so it is the one on hot standby.
        expect(hotStandbyVersion(sagemaker({ standby: "hot" }, { warm: 2, quarantined: ["2"] }), served)).toBe("1");
        expect(hotStandbyVersion(sagemaker(), served)).toBeUndefined();
        expect(hotStandbyVersion(kubernetesConfig(), served)).toBeUndefined();
    });

    it("no rollback target under hot: the paths restore nothing as under cold, and there is no standby to cost", () => {
        const budget = restoreBudget(sagemaker({ standby: "hot" }, { quarantined: ["1", "2"] }), FIRST_DEPLOY);
        expect(budget.rollbackVersion).toBeUndefined();
        expect(pathOf(budget, "trigger").restoresNothing).toBe("no warm version precedes 3, so the trigger fails closed and changes nothing");
        expect(budget.standby).toBeUndefined();
    });

    it("FIGURE_SOURCES.sagemakerWeights cites the UpdateEndpointWeightsAndCapacities reference and says no time is published", () => {
        expect(FIGURE_SOURCES.sagemakerWeights.urls).toEqual([
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpointWeightsAndCapacities.html",
        ]);
        expect(FIGURE_SOURCES.sagemakerWeights.says).toContain("no endpoint config");
        expect(FIGURE_SOURCES.sagemakerWeights.says).toContain("AWS publishes no time for a weight change or for added instances");
        expect(FIGURE_SOURCES.sagemakerNewFleet.says).toContain(
            "with standby: cold a warm version's Model and config exist but its instances do not, and with standby: hot the same holds for every version but the one on hot standby",
        );
    });
});

describe("restoreBudget: what the SageMaker standby costs, in instance-hours", () => {
    const sagemaker = (settings: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
        parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.g5.xlarge", ...settings }, ...extra }));

    it("hot with standbyInstanceCount 2: 2 × 730 = 1460 instance-hours a month", () => {
        expect(HOURS_PER_MONTH).toBe(730);
        expect(restoreBudget(sagemaker({ instanceCount: 3, standby: "hot", standbyInstanceCount: 2 }), FIRST_DEPLOY).standby).toEqual({
            mode: "hot",
            version: "2",
            instanceType: "ml.g5.xlarge",
            standbyInstanceCount: 2,
            instanceCount: 3,
            instanceHoursPerMonth: 1460,
            hoursPerMonth: 730,
        });
    });

    it("hot by default is full size: instanceCount 3 runs 3 × 730 = 2190 instance-hours a month", () => {
        const standby = restoreBudget(sagemaker({ instanceCount: 3, standby: "hot" }), FIRST_DEPLOY).standby;
        expect([standby?.standbyInstanceCount, standby?.instanceHoursPerMonth]).toEqual([3, 2190]);
    });

    it("cold: what hot would run at its default size, and cost", () => {
        expect(restoreBudget(sagemaker({ instanceCount: 2 }), FIRST_DEPLOY).standby).toEqual({
            mode: "cold",
            version: "2",
            instanceType: "ml.g5.xlarge",
            standbyInstanceCount: 2,
            instanceCount: 2,
            instanceHoursPerMonth: 1460,
            hoursPerMonth: 730,
        });
    });

    it("none on Kubernetes, and none with no rollback target", () => {
        expect(restoreBudget(kubernetesConfig(), FIRST_DEPLOY).standby).toBeUndefined();
        expect(restoreBudget(sagemaker({}, { warm: 0 }), FIRST_DEPLOY).standby).toBeUndefined();
        expect(restoreBudget(example("sandbox"), FIRST_DEPLOY).standby).toBeUndefined();
    });
});

describe("renderRestoreBudget: SageMaker standby", () => {
    const render = (settings: Record<string, unknown>) =>
        renderRestoreBudget(
            restoreBudget(parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.g5.xlarge", instanceCount: 2, ...settings } })), FIRST_DEPLOY),
        );

    it("hot: the by-hand path has no figure at all, so it says so rather than a total of 0 s; the last line is the standby's cost", () => {
        const lines = render({ standby: "hot", standbyInstanceCount: 1 });
        expect(lines).toContain("  By hand: mlops rollback --version 2: not estimated (none of its 3 steps has a figure)");
        expect(lines.at(-1)).toBe(
            "  Hot standby: version 2 on 1 × ml.g5.xlarge running at weight 0, 730 instance-hours a month (AWS prices instances per instance-hour; a month counted as 730 hours); a rollback raises it to 2 instances, as many as serve (partial standby: see the steps above).",
        );
        expect(render({ standby: "hot" }).at(-1)).toBe(
            "  Hot standby: version 2 on 2 × ml.g5.xlarge running at weight 0, 1460 instance-hours a month (AWS prices instances per instance-hour; a month counted as 730 hours).",
        );
    });

    it("cold: one line saying what hot would buy and cost", () => {
        const lines = render({});
        expect(lines).toContain("  By hand: mlops rollback --version 2: 8 min 30 s to 15 min, plus 2 steps not estimated");
        expect(lines.at(-1)).toBe(
            "  Standby: cold: a rollback to version 2 starts a new fleet (the steps above). With mlops:sagemaker.standby: hot it would be one weights call, for 2 × ml.g5.xlarge running at weight 0, 1460 instance-hours a month (AWS prices instances per instance-hour; a month counted as 730 hours).",
        );
    });
});
