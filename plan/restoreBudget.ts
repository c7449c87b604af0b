/**
 * The time-to-restore budget of a stack config: from a bad version's first
 * failing requests to traffic restored, step by step, with where every
 * figure comes from.
 *
 * A figure is one of: derived from the config (with the documented rule
 * that turns it into seconds), documented by AWS, reported by users where
 * AWS publishes nothing, or not estimated. Nothing is guessed: a step with
 * no source is listed as not estimated, and totals say which steps they
 * leave out. `FIGURE_SOURCES` is rendered into BENCHMARKS.md by `npm run bench`.
 */
import { defaultRollbackTarget } from "../catalog/catalog";
import type { StackConfig } from "../config/schema";

export type FigureBasis = "config" | "documented" | "reported" | "not estimated";

export interface FigureSource {
    readonly title: string;
    /** Where to read it; several for user reports. */
    readonly urls: readonly string[];
    /** What the source says that the figure rests on (paraphrased or quoted briefly). */
    readonly says: string;
}

/** Every source a budget step cites. */
export const FIGURE_SOURCES = {
    alarmEvaluation: {
        title: "CloudWatch User Guide: alarm evaluation",
        urls: ["https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html"],
        says: "An alarm goes to ALARM when Datapoints to Alarm of the last Evaluation Periods data points breach (not necessarily consecutive). An alarm with a period of a minute or more is evaluated every minute; one with a 10 or 30 s period every 10 s.",
    },
    sagemakerMetrics: {
        title: "SageMaker Developer Guide: metrics in CloudWatch, endpoint invocation metrics",
        urls: ["https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-endpoint-invocation"],
        says: "Invocations, Invocation5XXErrors and ModelLatency are available at a 1-minute frequency. No publication delay beyond that is documented.",
    },
    containerInsightsInterval: {
        title: "CloudWatch User Guide: Container Insights metrics collection",
        urls: ["https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-setup-metrics.html"],
        says: "The CloudWatch agent collects Kubernetes metrics every 60 s by default. For metrics in your own namespace the interval is your publisher's.",
    },
    compositeAlarm: {
        title: "CloudWatch User Guide: composite alarms",
        urls: ["https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Composite_Alarm.html"],
        says: "No figure is published for how soon a composite alarm follows its metric alarms.",
    },
    eventBridgeLatency: {
        title: "Amazon SNS FAQ: how SNS differs from EventBridge",
        urls: ["https://aws.amazon.com/sns/faqs/"],
        says: "EventBridge has 'a typical latency of about half a second' (a figure from its launch). CloudWatch guarantees delivery of alarm state changes to EventBridge but gives no time.",
    },
    lambdaColdStart: {
        title: "Lambda Developer Guide: the execution environment lifecycle, cold starts",
        urls: ["https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#cold-start-latency"],
        says: "A cold start takes from under 100 ms to over 1 s. The trigger runs rarely, so expect one. How long an asynchronous event waits in Lambda's queue is not published.",
    },
    triggerHandler: {
        title: "This package: the rollback trigger (trigger/handleAlarmEvent.ts)",
        urls: ["trigger/handleAlarmEvent.ts"],
        says: "While SageMaker is changing the endpoint the handler re-checks it busyRechecks times, busyRecheckSeconds apart, then gives up. Its checks are a handful of DynamoDB, SageMaker and ECR calls whose latency is not published.",
    },
    sagemakerNewFleet: {
        title: "SageMaker API Reference: UpdateEndpoint; Developer Guide: blue/green deployments; user reports of endpoints reaching InService",
        urls: [
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html",
            "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html",
            "https://github.com/aws/sagemaker-python-sdk/issues/1006",
            "https://github.com/hashicorp/terraform-provider-aws/pull/39090",
            "https://github.com/hashicorp/terraform-provider-aws/issues/2493",
            "https://github.com/aws/amazon-sagemaker-feedback/issues/189",
        ],
        says: "UpdateEndpoint deploys the new config to a new fleet of instances, then shifts traffic to it: a warm version's Model and config exist, its instances do not. AWS publishes no time for this. Users report about 8.5 min for one ml.m4.xlarge (2019), 'a little over 10 minutes' (2024), 'around 15 minutes' (2019) and 'even CPU-only instances take 20-30 minutes' (2025), each with their own image pull and model load.",
    },
    sagemakerTrafficShift: {
        title: "SageMaker API Reference: TrafficRoutingConfig",
        urls: ["https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html"],
        says: "WaitIntervalInSeconds is the wait between incremental steps of turning traffic on for the new fleet: a canary waits once before the rest, a linear shift once per further step.",
    },
    sagemakerGuardrails: {
        title: "SageMaker Developer Guide: deployment guardrails, auto-rollback",
        urls: ["https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html"],
        says: "While a blue/green deployment bakes, the old fleet still runs and an alarm makes SageMaker shift traffic back to it. No time for that shift is published.",
    },
    codebuildStart: {
        title: "CodeBuild User Guide: curated images; user reports",
        urls: [
            "https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-available.html",
            "https://github.com/aws/aws-codebuild-docker-images/issues/424",
        ],
        says: "CodeBuild caches supported images such as standard:7.0 to shorten provisioning; no figure is published. Reports of 3-5 min provisioning concern images that were not cached, so they are not used here. Queueing depends on your account's concurrent builds.",
    },
    reconcileInstall: {
        title: "This package: the reconcile build's buildspec (runnerBuildspec in components/alarmRollbackTrigger.ts)",
        urls: ["components/alarmRollbackTrigger.ts"],
        says: "The build installs the Pulumi CLI and runs npm ci in your repository before mlops rollback: its length is your repository's.",
    },
    pulumiUpdate: {
        title: "BENCHMARKS.md, section 2 (rollback time on the sandbox)",
        urls: ["BENCHMARKS.md"],
        says: "mlops rollback is a Pulumi update. The benchmark measures it on a loopback sandbox, which says little about a real cluster and backend, so the budget does not use that figure.",
    },
    kubeProxySync: {
        title: "Kubernetes reference: kube-proxy, --iptables-min-sync-period",
        urls: ["https://kubernetes.io/docs/reference/command-line-tools-reference/kube-proxy/", "https://github.com/kubernetes/kubernetes/issues/92836"],
        says: "In iptables mode kube-proxy applies endpoint changes at most once per minimum sync period, 1 s by default. Other proxies and CNIs have their own figures.",
    },
    kubernetesStartup: {
        title: "This package: the model server's startup probe (components/kubernetesModelEndpoint.ts)",
        urls: ["components/kubernetesModelEndpoint.ts"],
        says: "A new pod has startupTimeoutSeconds to load its model and turn ready before it is restarted; the update fails after rolloutTimeoutSeconds.",
    },
    byHand: {
        title: "People",
        urls: [],
        says: "How soon someone runs mlops rollback after being told is yours to measure.",
    },
} as const satisfies Record<string, FigureSource>;

export type FigureSourceId = keyof typeof FIGURE_SOURCES;

export interface SecondsRange {
    readonly low: number;
    readonly high: number;
}

export interface BudgetStep {
    readonly phase: "detect" | "trigger" | "restore";
    readonly what: string;
    /** Undefined: not estimated (the source says why). */
    readonly seconds?: SecondsRange;
    readonly basis: FigureBasis;
    readonly source: FigureSourceId;
}

export interface RestorePath {
    /** What starts and ends the clock, e.g. "After SageMaker's bake: the alarm trigger". */
    readonly title: string;
    readonly steps: readonly BudgetStep[];
    /** Set when this path restores nothing for this config, with why. */
    readonly restoresNothing?: string;
}

export interface RestoreBudget {
    /** The version whose failure the budget is for. */
    readonly pinned: string;
    /** The version the alarm trigger (and `mlops rollback` without --version) restores. */
    readonly rollbackVersion?: string;
    readonly paths: readonly RestorePath[];
    /** Set when no alarm restores anything automatically, with why. */
    readonly noAutomaticRestore?: string;
}

/**
 * The budget of every way this config restores traffic: SageMaker's own
 * guardrails during a deployment, the alarm trigger after it, and a person
 * running `mlops rollback`.
 */
export function restoreBudget(config: StackConfig): RestoreBudget {
    const rollbackVersion = defaultRollbackTarget(config);
    const paths: RestorePath[] = [];
    const { alarms, trigger } = config;
    if (config.target === "sagemaker" && alarms?.feedGuardrails === true) paths.push(guardrailPath(config));
    if (alarms !== undefined && trigger !== undefined) paths.push(triggerPath(config, rollbackVersion));
    paths.push(byHandPath(config, rollbackVersion));
    const noAutomaticRestore =
        alarms === undefined
            ? "no mlops:alarms, so nothing watches the endpoint: add mlops:alarms (and mlops:trigger) for an automatic restore"
            : trigger === undefined
              ? config.target === "sagemaker"
                  ? "without mlops:trigger the alarms restore only during a deployment (SageMaker's guardrails) and otherwise notify people"
                  : "without mlops:trigger the alarms only notify people: add mlops:trigger for an automatic restore"
              : undefined;
    return { pinned: config.pinned, rollbackVersion, paths, noAutomaticRestore };
}

/** The sum of the estimated steps, and the steps the sum leaves out. */
export function pathTotal(path: RestorePath): { readonly seconds: SecondsRange; readonly notEstimated: readonly BudgetStep[] } {
    let low = 0;
    let high = 0;
    const notEstimated: BudgetStep[] = [];
    for (const step of path.steps) {
        if (step.seconds === undefined) {
            notEstimated.push(step);
            continue;
        }
        low += step.seconds.low;
        high += step.seconds.high;
    }
    return { seconds: { low, high }, notEstimated };
}

/** From a metric's first bad data point to the metric alarm in ALARM. */
function detectionSteps(config: StackConfig): BudgetStep[] {
    const alarms = config.alarms;
    if (alarms === undefined) return [];
    const period = alarms.periodSeconds;
    const needed = alarms.datapointsToAlarm;
    const steps: BudgetStep[] = [
        {
            phase: "detect",
            // A severe fault (every request failing) can make the period it starts in breach too, hence one period less at best.
            what: `${needed} of ${alarms.evaluationPeriods} data points of ${period} s breach (a period less if the fault fails the period it starts in)`,
            seconds: { low: (needed - 1) * period, high: needed * period },
            basis: "config",
            source: "alarmEvaluation",
        },
        {
            phase: "detect",
            // Documented for 10 and 30 s periods; the 20 s period PutMetricAlarm also takes is assumed to follow them.
            what: `CloudWatch evaluates the alarm every ${period >= 60 ? "minute" : "10 s"}`,
            seconds: { low: 0, high: period >= 60 ? 60 : 10 },
            basis: "documented",
            source: "alarmEvaluation",
        },
    ];
    steps.push(config.target === "sagemaker" ? sagemakerMetricsStep() : customMetricsStep(alarms.custom.map((alarm) => alarm.namespace)));
    return steps;
}

function sagemakerMetricsStep(): BudgetStep {
    return {
        phase: "detect",
        what: "SageMaker publishes the endpoint's invocation metrics once a minute",
        seconds: { low: 0, high: 60 },
        basis: "documented",
        source: "sagemakerMetrics",
    };
}

function customMetricsStep(namespaces: readonly string[]): BudgetStep {
    const containerInsightsOnly = namespaces.length > 0 && namespaces.every((namespace) => namespace === "ContainerInsights");
    return containerInsightsOnly
        ? {
              phase: "detect",
              what: "the CloudWatch agent publishes Container Insights metrics once a minute (its default)",
              seconds: { low: 0, high: 60 },
              basis: "documented",
              source: "containerInsightsInterval",
          }
        : {
              phase: "detect",
              what: `your publisher's interval for ${[...new Set(namespaces)].join(", ")}`,
              basis: "not estimated",
              source: "containerInsightsInterval",
          };
}

/** SageMaker's own auto-rollback while a deployment bakes: the old fleet is still up. */
function guardrailPath(config: StackConfig): RestorePath {
    return {
        title: "During a deployment's bake: SageMaker's guardrails shift traffic back to the old fleet",
        steps: [
            ...detectionSteps(config),
            {
                phase: "restore",
                what: "SageMaker shifts traffic back to the old fleet, which still runs until the bake ends",
                basis: "not estimated",
                source: "sagemakerGuardrails",
            },
        ],
    };
}

/** EventBridge → the trigger Lambda → the fast path (SageMaker) or a reconcile build (Kubernetes). */
function triggerPath(config: StackConfig, rollbackVersion: string | undefined): RestorePath {
    const sagemaker = config.target === "sagemaker";
    const title = sagemaker
        ? `After the bake: the alarm trigger moves the endpoint to version ${rollbackVersion ?? "(none)"}`
        : `The alarm trigger starts a reconcile build of mlops rollback --version ${rollbackVersion ?? "(none)"}`;
    if (rollbackVersion === undefined) {
        return { title, steps: [], restoresNothing: `no warm version precedes ${config.pinned}, so the trigger fails closed and changes nothing` };
    }
    const trigger = config.trigger;
    const steps: BudgetStep[] = [
        ...detectionSteps(config),
        { phase: "detect", what: "the composite alarm follows its metric alarm", basis: "not estimated", source: "compositeAlarm" },
        {
            phase: "trigger",
            what: "EventBridge delivers the alarm's state change",
            seconds: { low: 0.5, high: 0.5 },
            basis: "documented",
            source: "eventBridgeLatency",
        },
        { phase: "trigger", what: "Lambda starts the handler (cold start)", seconds: { low: 0.1, high: 1 }, basis: "documented", source: "lambdaColdStart" },
        { phase: "trigger", what: "the handler's checks and calls", basis: "not estimated", source: "triggerHandler" },
    ];
    if (sagemaker) {
        const busy = (trigger?.busyRechecks ?? 0) * (trigger?.busyRecheckSeconds ?? 0);
        steps.push(
            {
                phase: "trigger",
                what: `re-checks while SageMaker is still changing the endpoint (${trigger?.busyRechecks} × ${trigger?.busyRecheckSeconds} s at most)`,
                seconds: { low: 0, high: busy },
                basis: "config",
                source: "triggerHandler",
            },
            newFleetStep(config, rollbackVersion),
        );
    } else {
        steps.push(
            { phase: "restore", what: "CodeBuild queues and provisions the reconcile build", basis: "not estimated", source: "codebuildStart" },
            { phase: "restore", what: "the build installs the Pulumi CLI and runs npm ci", basis: "not estimated", source: "reconcileInstall" },
            ...kubernetesRollbackSteps(config, rollbackVersion),
        );
    }
    return { title, steps };
}

function newFleetStep(config: StackConfig, version: string): BudgetStep {
    const sagemaker = config.sagemaker;
    return {
        phase: "restore",
        what: `SageMaker starts ${sagemaker?.instanceCount} × ${sagemaker?.instanceType} for version ${version}'s config, then moves traffic to them`,
        seconds: { low: 510, high: 1800 },
        basis: "reported",
        source: "sagemakerNewFleet",
    };
}

/** `mlops rollback` on Kubernetes: a Pulumi update that moves the Service, after a scale-up when the standby is partial. */
function kubernetesRollbackSteps(config: StackConfig, version: string): BudgetStep[] {
    const kubernetes = config.kubernetes;
    const replicas = kubernetes?.replicas ?? 0;
    const standby = kubernetes?.standbyReplicas ?? replicas;
    const steps: BudgetStep[] = [];
    if (standby < replicas) {
        steps.push({
            phase: "restore",
            what: `version ${version} scales from ${standby} to ${replicas} pods, which load the model (at most startupTimeoutSeconds, ${kubernetes?.startupTimeoutSeconds} s)`,
            seconds: { low: 0, high: kubernetes?.startupTimeoutSeconds ?? 0 },
            basis: "config",
            source: "kubernetesStartup",
        });
    }
    steps.push({
        phase: "restore",
        what:
            standby < replicas
                ? `mlops rollback's Pulumi update moves the Service to version ${version}'s pods`
                : `mlops rollback's Pulumi update moves the Service to version ${version}'s pods, ready on hot standby (no model load)`,
        basis: "not estimated",
        source: "pulumiUpdate",
    });
    steps.push({
        phase: "restore",
        what: "kube-proxy applies the new endpoints on each node (iptables mode, default minimum sync period)",
        seconds: { low: 0, high: 1 },
        basis: "documented",
        source: "kubeProxySync",
    });
    return steps;
}

/** A person runs `mlops rollback`: the restore steps without detection and trigger. */
function byHandPath(config: StackConfig, rollbackVersion: string | undefined): RestorePath {
    const title = `By hand: mlops rollback${rollbackVersion === undefined ? "" : ` --version ${rollbackVersion}`}`;
    if (rollbackVersion === undefined) {
        const older = olderVersions(config);
        return {
            title,
            steps: [],
            restoresNothing:
                older.length === 0
                    ? `no version precedes ${config.pinned} that may be pinned, so there is nothing to roll back to`
                    : `no warm version precedes ${config.pinned}: a rollback to ${older[older.length - 1]} builds it first (a cold rollback, not budgeted here)`,
        };
    }
    const start: BudgetStep = { phase: "trigger", what: "someone decides and runs it", basis: "not estimated", source: "byHand" };
    if (config.target === "kubernetes") return { title, steps: [start, ...kubernetesRollbackSteps(config, rollbackVersion)] };
    return { title, steps: [start, newFleetStep(config, rollbackVersion), ...trafficShiftSteps(config)] };
}

/** The versions before the pin that may be pinned again, oldest first. */
function olderVersions(config: StackConfig): string[] {
    const ids = config.versions.map((v) => v.version);
    return ids.slice(0, ids.indexOf(config.pinned)).filter((id) => !config.quarantined.includes(id));
}

/** The stack's own deployment policy governs a `pulumi up` (the fast path alone shifts all at once). */
function trafficShiftSteps(config: StackConfig): BudgetStep[] {
    const deployment = config.sagemaker?.deployment;
    if (deployment === undefined || deployment.strategy === "allAtOnce") return [];
    const step = deployment.stepPercent ?? 100;
    const waits = deployment.strategy === "canary" ? 1 : Math.ceil(100 / step) - 1;
    const seconds = waits * deployment.waitIntervalSeconds;
    return [
        {
            phase: "restore",
            what: `the ${deployment.strategy} shift (${step}% steps) waits ${waits} × ${deployment.waitIntervalSeconds} s before all traffic is on the new fleet`,
            seconds: { low: seconds, high: seconds },
            basis: "config",
            source: "sagemakerTrafficShift",
        },
    ];
}

/** `45 s`, `2 min`, `8 min 30 s`, `1 h 5 min`. */
export function formatSeconds(seconds: number): string {
    if (seconds < 60) return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
    const whole = Math.round(seconds);
    const hours = Math.floor(whole / 3600);
    const minutes = Math.floor((whole % 3600) / 60);
    const rest = whole % 60;
    if (hours > 0) return minutes === 0 ? `${hours} h` : `${hours} h ${minutes} min`;
    return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}

function formatRange(range: SecondsRange): string {
    return range.low === range.high ? `~${formatSeconds(range.low)}` : `${formatSeconds(range.low)} to ${formatSeconds(range.high)}`;
}

/** The budget as text: one block per path, every step with its figure, basis and source id. */
export function renderRestoreBudget(budget: RestoreBudget): string[] {
    const lines = [`Time to restore if version ${budget.pinned} goes bad (estimated; the source of every figure is in BENCHMARKS.md):`];
    if (budget.noAutomaticRestore !== undefined) lines.push(`  No automatic restore: ${budget.noAutomaticRestore}.`);
    for (const path of budget.paths) {
        if (path.restoresNothing !== undefined) {
            lines.push(`  ${path.title}: restores nothing: ${path.restoresNothing}.`);
            continue;
        }
        const { seconds, notEstimated } = pathTotal(path);
        const leftOut = notEstimated.length === 0 ? "" : `, plus ${notEstimated.length} step${notEstimated.length === 1 ? "" : "s"} not estimated`;
        lines.push(`  ${path.title}: ${formatRange(seconds)}${leftOut}`);
        for (const step of path.steps) {
            const figure = step.seconds === undefined ? "not estimated" : formatRange(step.seconds);
            lines.push(`    ${step.phase.padEnd(7)} ${figure.padEnd(22)} ${step.what}  [${step.basis}; ${step.source}]`);
        }
    }
    return lines;
}
