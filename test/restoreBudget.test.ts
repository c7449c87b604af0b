import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseStackConfig, type StackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import {
    FIGURE_SOURCES,
    formatSeconds,
    pathTotal,
    renderRestoreBudget,
    restoreBudget,
    type BudgetStep,
    type RestoreBudget,
    type RestorePath,
} from "../plan/restoreBudget";
import { sagemakerRawConfig } from "./helpers";

const example = (stack: string): StackConfig => parseStackConfig(rawConfigFromStackFile(path.join(__dirname, "..", "stacks", `Pulumi.${stack}.yaml`)));

const TRIGGER = {
    runnerRoleArn: "arn:aws:iam::123456789012:role/pulumi-deployer",
    source: { type: "CODECOMMIT", location: "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/ml-infra" },
};

/** A Kubernetes config with versions 1..3 pinned to 3, warm 1. */
function kubernetesConfig(overrides: Record<string, unknown> = {}): StackConfig {
    const { versions } = sagemakerRawConfig();
    return parseStackConfig({ target: "kubernetes", model: "fraud-detector", pinned: "3", warm: 1, versions, kubernetes: { replicas: 3 }, ...overrides });
}

const containerInsightsAlarm = { name: "restarts", namespace: "ContainerInsights", metricName: "pod_number_of_container_restarts", threshold: 3 };

function pathTitled(budget: RestoreBudget, start: string): RestorePath {
    const found = budget.paths.find((p) => p.title.startsWith(start));
    if (found === undefined) throw new Error(`no path starting '${start}' in ${budget.paths.map((p) => p.title).join(" | ")}`);
    return found;
}

const figures = (steps: readonly BudgetStep[]) =>
    steps.map((s) => [s.phase, s.seconds === undefined ? null : [s.seconds.low, s.seconds.high], s.basis, s.source]);

describe("restoreBudget: the SageMaker example", () => {
    const budget = restoreBudget(example("sagemaker-example"));

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

    it("times the trigger path from the config (2 of 3 × 60 s, 4 × 20 s re-checks), AWS's documents and user reports", () => {
        const trigger = pathTitled(budget, "After the bake");
        expect(figures(trigger.steps)).toEqual([
            ["detect", [60, 120], "config", "alarmEvaluation"],
            ["detect", [0, 60], "documented", "alarmEvaluation"],
            ["detect", [0, 60], "documented", "sagemakerMetrics"],
            ["detect", null, "not estimated", "compositeAlarm"],
            ["trigger", [0.5, 0.5], "documented", "eventBridgeLatency"],
            ["trigger", [0.1, 1], "documented", "lambdaColdStart"],
            ["trigger", null, "not estimated", "triggerHandler"],
            ["trigger", [0, 80], "config", "triggerHandler"],
            ["restore", [510, 1800], "reported", "sagemakerNewFleet"],
        ]);
        const total = pathTotal(trigger);
        expect(total.seconds.low).toBeCloseTo(570.6);
        expect(total.seconds.high).toBeCloseTo(2121.5);
        expect(total.notEstimated.map((s) => s.source)).toEqual(["compositeAlarm", "triggerHandler"]);
        expect(trigger.steps.at(-1)?.what).toBe("SageMaker starts 2 × ml.m5.large for version 2's config, then moves traffic to them");
    });

    it("adds the example's canary wait (one 300 s wait) to a rollback by hand, which starts with a person", () => {
        const byHand = pathTitled(budget, "By hand");
        expect(figures(byHand.steps)).toEqual([
            ["trigger", null, "not estimated", "byHand"],
            ["restore", [510, 1800], "reported", "sagemakerNewFleet"],
            ["restore", [300, 300], "config", "sagemakerTrafficShift"],
        ]);
    });

    it("leaves SageMaker's own shift back to the old fleet unestimated, and has no composite alarm step (guardrails watch the metric alarms)", () => {
        const guardrails = pathTitled(budget, "During a deployment's bake");
        expect(guardrails.steps.map((s) => s.source)).toEqual(["alarmEvaluation", "alarmEvaluation", "sagemakerMetrics", "sagemakerGuardrails"]);
        expect(guardrails.steps.at(-1)?.seconds).toBeUndefined();
    });
});

describe("restoreBudget: detection follows the alarm settings", () => {
    it("a 10 s high-resolution period with 1 data point: 0-10 s of data, evaluated every 10 s", () => {
        const alarms = { periodSeconds: 10, evaluationPeriods: 3, datapointsToAlarm: 1, custom: [containerInsightsAlarm] };
        const detect = restoreBudget(kubernetesConfig({ alarms, trigger: TRIGGER })).paths[0].steps.filter((s) => s.phase === "detect");
        expect(figures(detect)).toEqual([
            ["detect", [0, 10], "config", "alarmEvaluation"],
            ["detect", [0, 10], "documented", "alarmEvaluation"],
            ["detect", [0, 60], "documented", "containerInsightsInterval"],
            ["detect", null, "not estimated", "compositeAlarm"],
        ]);
        expect(detect[1].what).toBe("CloudWatch evaluates the alarm every 10 s");
    });

    it("5 of 5 periods of 300 s take 20 to 25 min of bad data", () => {
        const config = parseStackConfig(sagemakerRawConfig({ alarms: { periodSeconds: 300, evaluationPeriods: 5, datapointsToAlarm: 5 } }));
        expect(restoreBudget(config).paths[0].steps[0].seconds).toEqual({ low: 1200, high: 1500 });
    });
});

describe("restoreBudget: Kubernetes", () => {
    it("with a trigger: a reconcile build whose start and install are not estimated; hot standby loads no model", () => {
        const config = kubernetesConfig({ kubernetes: { replicas: 3, standbyReplicas: 3 }, alarms: { custom: [containerInsightsAlarm] }, trigger: TRIGGER });
        const budget = restoreBudget(config);
        expect(budget.paths.map((p) => p.title)).toEqual([
            "The alarm trigger starts a reconcile build of mlops rollback --version 2",
            "By hand: mlops rollback --version 2",
        ]);
        expect(figures(budget.paths[0].steps)).toEqual([
            ["detect", [60, 120], "config", "alarmEvaluation"],
            ["detect", [0, 60], "documented", "alarmEvaluation"],
            ["detect", [0, 60], "documented", "containerInsightsInterval"],
            ["detect", null, "not estimated", "compositeAlarm"],
            ["trigger", [0.5, 0.5], "documented", "eventBridgeLatency"],
            ["trigger", [0.1, 1], "documented", "lambdaColdStart"],
            ["trigger", null, "not estimated", "triggerHandler"],
            ["restore", null, "not estimated", "codebuildStart"],
            ["restore", null, "not estimated", "reconcileInstall"],
            ["restore", null, "not estimated", "pulumiUpdate"],
            ["restore", [0, 1], "documented", "kubeProxySync"],
        ]);
        expect(budget.paths[0].steps[9].what).toContain("ready on hot standby (no model load)");
    });

    it("with partial standby (1 of 3) the target's new pods load the model: at most startupTimeoutSeconds", () => {
        const config = kubernetesConfig({ kubernetes: { replicas: 3, standbyReplicas: 1, startupTimeoutSeconds: 120 } });
        const byHand = pathTitled(restoreBudget(config), "By hand");
        expect(figures(byHand.steps)).toEqual([
            ["trigger", null, "not estimated", "byHand"],
            ["restore", [0, 120], "config", "kubernetesStartup"],
            ["restore", null, "not estimated", "pulumiUpdate"],
            ["restore", [0, 1], "documented", "kubeProxySync"],
        ]);
        expect(byHand.steps[1].what).toBe("version 2 scales from 1 to 3 pods, which load the model (at most startupTimeoutSeconds, 120 s)");
    });

    it("alarms on a namespace of your own: the publishing interval is not estimated", () => {
        const alarm = { ...containerInsightsAlarm, name: "latency", namespace: "Acme/FraudDetector" };
        const config = kubernetesConfig({ alarms: { custom: [containerInsightsAlarm, alarm] }, trigger: TRIGGER });
        const publish = restoreBudget(config).paths[0].steps[2];
        expect([publish.seconds, publish.basis, publish.what]).toEqual([
            undefined,
            "not estimated",
            "your publisher's interval for ContainerInsights, Acme/FraudDetector",
        ]);
    });
});

describe("restoreBudget: what restores nothing", () => {
    it("says why there is no automatic restore: no alarms; alarms without a trigger", () => {
        expect(restoreBudget(kubernetesConfig()).noAutomaticRestore).toBe(
            "no mlops:alarms, so nothing watches the endpoint: add mlops:alarms (and mlops:trigger) for an automatic restore",
        );
        expect(restoreBudget(kubernetesConfig({ alarms: { custom: [containerInsightsAlarm] } })).noAutomaticRestore).toBe(
            "without mlops:trigger the alarms only notify people: add mlops:trigger for an automatic restore",
        );
        const sagemaker = restoreBudget(parseStackConfig(sagemakerRawConfig({ alarms: {} })));
        expect(sagemaker.noAutomaticRestore).toBe(
            "without mlops:trigger the alarms restore only during a deployment (SageMaker's guardrails) and otherwise notify people",
        );
        expect(sagemaker.paths.map((p) => p.title)).toEqual([
            "During a deployment's bake: SageMaker's guardrails shift traffic back to the old fleet",
            "By hand: mlops rollback --version 2",
        ]);
        const unfed = restoreBudget(parseStackConfig(sagemakerRawConfig({ alarms: { feedGuardrails: false } })));
        expect(unfed.paths.map((p) => p.title)).toEqual(["By hand: mlops rollback --version 2"]);
    });

    it("warm 0: the trigger fails closed, and by hand the rollback is cold", () => {
        const budget = restoreBudget(parseStackConfig(sagemakerRawConfig({ warm: 0, alarms: {}, trigger: TRIGGER })));
        expect(budget.rollbackVersion).toBeUndefined();
        const trigger = pathTitled(budget, "After the bake");
        expect([trigger.steps, trigger.restoresNothing]).toEqual([[], "no warm version precedes 3, so the trigger fails closed and changes nothing"]);
        expect(pathTitled(budget, "By hand").restoresNothing).toBe(
            "no warm version precedes 3: a rollback to 2 builds it first (a cold rollback, not budgeted here)",
        );
    });

    it("the first version pinned: nothing to roll back to", () => {
        const budget = restoreBudget(example("sandbox"));
        expect(budget.paths).toEqual([
            { title: "By hand: mlops rollback", steps: [], restoresNothing: "no version precedes 1 that may be pinned, so there is nothing to roll back to" },
        ]);
    });
});

describe("restoreBudget: traffic shifts of a rollback by hand on SageMaker", () => {
    const shift = (deployment: Record<string, unknown>) =>
        pathTitled(restoreBudget(parseStackConfig(sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", deployment } }))), "By hand").steps.slice(2);

    it("all at once: no wait after the fleet is up", () => {
        expect(shift({ strategy: "allAtOnce", waitIntervalSeconds: 600 })).toEqual([]);
    });

    it("linear in 20% steps: four waits between five steps", () => {
        expect(figures(shift({ strategy: "linear", stepPercent: 20, waitIntervalSeconds: 60 }))).toEqual([
            ["restore", [240, 240], "config", "sagemakerTrafficShift"],
        ]);
    });

    it("linear in 30% steps: four steps (30, 60, 90, 100), three waits", () => {
        expect(shift({ strategy: "linear", stepPercent: 30, waitIntervalSeconds: 100 })[0].seconds).toEqual({ low: 300, high: 300 });
    });
});

describe("FIGURE_SOURCES", () => {
    const budgets = [
        restoreBudget(example("sagemaker-example")),
        restoreBudget(kubernetesConfig({ kubernetes: { replicas: 3, standbyReplicas: 1 }, alarms: { custom: [containerInsightsAlarm] }, trigger: TRIGGER })),
    ];
    const cited = new Set(budgets.flatMap((budget) => budget.paths.flatMap((p) => p.steps.map((s) => s.source))));

    it("every source is cited by some step, and every cited source exists", () => {
        expect([...cited].sort()).toEqual(Object.keys(FIGURE_SOURCES).sort());
    });

    it("every figure that is documented or reported points at a web page", () => {
        for (const budget of budgets) {
            for (const step of budget.paths.flatMap((p) => p.steps)) {
                if (step.basis !== "documented" && step.basis !== "reported") continue;
                expect(FIGURE_SOURCES[step.source].urls.length, step.source).toBeGreaterThan(0);
                for (const url of FIGURE_SOURCES[step.source].urls) expect(url, step.source).toMatch(/^https:\/\//);
            }
        }
    });
});

describe("renderRestoreBudget", () => {
    it("prints each path's total, the steps it leaves out, and every step's figure, basis and source", () => {
        const text = renderRestoreBudget(restoreBudget(example("sagemaker-example"))).join("\n");
        expect(text).toContain("Time to restore if version 3 goes bad (estimated; the source of every figure is in BENCHMARKS.md):");
        expect(text).toContain("  After the bake: the alarm trigger moves the endpoint to version 2: 9 min 31 s to 35 min 22 s, plus 2 steps not estimated");
        expect(text).toContain(
            "    restore 8 min 30 s to 30 min   SageMaker starts 2 × ml.m5.large for version 2's config, then moves traffic to them  [reported; sagemakerNewFleet]",
        );
        expect(text).toContain("    trigger ~0.5 s                 EventBridge delivers the alarm's state change  [documented; eventBridgeLatency]");
        expect(text).toContain("  By hand: mlops rollback --version 2: 13 min 30 s to 35 min, plus 1 step not estimated");
    });

    it("says why there is no automatic restore, and counts the steps a total leaves out", () => {
        const text = renderRestoreBudget(restoreBudget(example("kubernetes-example")));
        expect(text).toEqual([
            "Time to restore if version 3 goes bad (estimated; the source of every figure is in BENCHMARKS.md):",
            "  No automatic restore: no mlops:alarms, so nothing watches the endpoint: add mlops:alarms (and mlops:trigger) for an automatic restore.",
            "  By hand: mlops rollback --version 2: 0 s to 1 s, plus 2 steps not estimated",
            "    trigger not estimated          someone decides and runs it  [not estimated; byHand]",
            "    restore not estimated          mlops rollback's Pulumi update moves the Service to version 2's pods, ready on hot standby (no model load)  [not estimated; pulumiUpdate]",
            "    restore 0 s to 1 s             kube-proxy applies the new endpoints on each node (iptables mode, default minimum sync period)  [documented; kubeProxySync]",
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
