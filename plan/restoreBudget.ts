/**
 * The time-to-restore budget of a stack config: from a bad version's first
 * failing requests to traffic restored, step by step, with where every
 * figure comes from.
 *
 * A figure is one of: derived from the config (with the documented rule
 * that turns it into seconds), documented by AWS or Kubernetes, reported by
 * users where AWS publishes nothing, or not estimated. Nothing is guessed: a
 * step with no source is listed as not estimated, and totals say how many
 * steps they leave out. `FIGURE_SOURCES` is rendered into BENCHMARKS.md by
 * `npm run bench`.
 */
import { defaultRollbackTarget, pinnableVersionsBefore } from "../catalog/catalog";
import {
    guardrailsConfigured,
    guardrailsExcludedBy,
    guardrailsExcludedByChange,
    REPORTED_NEW_FLEET_SECONDS,
    waitsBeforeFullShift,
    type SecondsRange,
} from "../config/deploymentPolicy";
import type { EndpointVariantsRecord } from "../catalog/endpointVariants";
import { rolloutTimeoutSeconds, type DeploymentSettings, type KubernetesSettings, type StackConfig, type TriggerSettings } from "../config/schema";

export type { SecondsRange } from "../config/deploymentPolicy";

export type FigureBasis = "config" | "documented" | "reported" | "not estimated";

export interface FigureSource {
    readonly title: string;
    /** Web pages, or files of this package. */
    readonly urls: readonly string[];
    /** What the source says that the figure rests on (paraphrased or quoted briefly). */
    readonly says: string;
}

/** Every source a budget step cites. */
export const FIGURE_SOURCES = {
    alarmEvaluation: {
        title: "CloudWatch User Guide: alarm evaluation",
        urls: ["https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html"],
        says: "An alarm goes to ALARM when Datapoints to Alarm of the last Evaluation Periods data points breach (not necessarily consecutive). An alarm with a period of a minute or more is evaluated every minute; one with a 10 or 30 s period every 10 s (20 s periods are not mentioned).",
    },
    sagemakerMetrics: {
        title: "SageMaker Developer Guide: metrics in CloudWatch, endpoint invocation metrics",
        urls: ["https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-endpoint-invocation"],
        says: "Invocations, Invocation5XXErrors and ModelLatency are available at a 1-minute frequency. No delay beyond that is published, so the budget counts the interval only.",
    },
    containerInsightsInterval: {
        title: "CloudWatch User Guide: Container Insights metrics collection",
        urls: ["https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-setup-metrics.html"],
        says: "The CloudWatch agent collects Kubernetes metrics every 60 s by default. For metrics in your own namespace the interval is your publisher's.",
    },
    compositeAlarm: {
        title: "CloudWatch User Guide: composite alarms; alarm events and EventBridge",
        urls: [
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Composite_Alarm.html",
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html",
        ],
        says: "No figure is published for how soon a composite alarm follows its metric alarms, nor for how soon CloudWatch hands a state change to EventBridge (delivery is guaranteed, its time is not).",
    },
    eventBridgeLatency: {
        title: "Amazon SNS FAQ: how SNS differs from EventBridge",
        urls: ["https://aws.amazon.com/sns/faqs/"],
        says: "EventBridge has 'a typical latency of about half a second' (a figure from its launch): typical, not a bound.",
    },
    lambdaColdStart: {
        title: "Lambda Developer Guide: the execution environment lifecycle; asynchronous invocation",
        urls: [
            "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#cold-start-latency",
            "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html",
        ],
        says: "A cold start takes from under 100 ms to over 1 s: typical, not a bound. The trigger runs rarely, so expect one. How long an event waits in Lambda's asynchronous queue is not published.",
    },
    triggerHandler: {
        title: "This package: the rollback trigger",
        urls: ["trigger/handleAlarmEvent.ts"],
        says: "Its checks are a handful of DynamoDB, SageMaker and ECR calls whose latency is not published. While SageMaker is changing the endpoint it re-checks busyRechecks times, busyRecheckSeconds apart, then restores nothing.",
    },
    sagemakerNewFleet: {
        title: "SageMaker API Reference: UpdateEndpoint; Developer Guide: blue/green deployments; user reports of CreateEndpoint",
        urls: [
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html",
            "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html",
            "https://github.com/aws/sagemaker-python-sdk/issues/1006",
            "https://github.com/hashicorp/terraform-provider-aws/issues/2493",
        ],
        says: "UpdateEndpoint deploys the config to a new fleet of instances, then shifts traffic to it: with standby: cold a warm version's Model and config exist but its instances do not, and with standby: hot the same holds for every version but the one on hot standby. AWS publishes no time for this. Users report CreateEndpoint, which starts a fleet the same way, taking about 8.5 min (one ml.m4.xlarge, 2019) and around 15 min (2019), each with their own image and model.",
    },
    sagemakerWeights: {
        title: "SageMaker API Reference: UpdateEndpointWeightsAndCapacities",
        urls: ["https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpointWeightsAndCapacities.html"],
        says: "It changes the weight of one or more variants, or the instance count of one variant, of an existing endpoint: its request names the endpoint and the variants, and no endpoint config, so nothing new is deployed. SageMaker sets the endpoint to Updating and back to InService, which DescribeEndpoint shows. AWS publishes no time for a weight change or for added instances, and nobody has measured either for this package yet, so both steps are not estimated (the new-fleet reports concern CreateEndpoint, not instances added to a running variant).",
    },
    sagemakerTrafficShift: {
        title: "SageMaker API Reference: TrafficRoutingConfig, CapacitySize",
        urls: [
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html",
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CapacitySize.html",
        ],
        says: "WaitIntervalInSeconds is the wait between incremental steps of turning traffic on for the new fleet: a canary waits once before the rest, a linear shift once per further step. Steps are a percentage of the instance count, and whole instances move, so the number of steps is a range when the percentage does not divide the fleet.",
    },
    sagemakerGuardrails: {
        title: "SageMaker Developer Guide: deployment guardrails, auto-rollback",
        urls: ["https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html"],
        says: "While a blue/green deployment bakes, the old fleet still runs and an alarm in ALARM makes SageMaker shift traffic back to it. No time for that shift is published.",
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
        title: "This package: the reconcile build's buildspec (runnerBuildspec)",
        urls: ["components/alarmRollbackTrigger.ts"],
        says: "The build installs the Pulumi CLI and runs npm ci in your repository before mlops rollback: its length is your repository's.",
    },
    pulumiUpdate: {
        title: "BENCHMARKS.md, section 2 (rollback time on the sandbox)",
        urls: ["BENCHMARKS.md"],
        says: "mlops rollback is a Pulumi update. The benchmark measures it on a loopback sandbox, which says little about a real cluster, cloud and backend, so the budget does not use that figure.",
    },
    kubeProxySync: {
        title: "Kubernetes reference: kube-proxy, --iptables-min-sync-period",
        urls: ["https://kubernetes.io/docs/reference/command-line-tools-reference/kube-proxy/", "https://github.com/kubernetes/kubernetes/issues/92836"],
        says: "In iptables mode kube-proxy syncs its rules at most once per minimum sync period, 1 s by default; the sync itself takes longer on large clusters (4-5 s reported in the issue). Other proxies and CNIs have their own figures.",
    },
    instantSwitch: {
        title: "This package: the instant switch (rollback/kubernetesSwitch.ts); BENCHMARKS.md, section 2",
        urls: ["rollback/kubernetesSwitch.ts", "BENCHMARKS.md"],
        says: "mlops rollback (or the alarm trigger on EKS) reads the stack's record and the Service, then moves the Service's selector with one compare-and-set write, before any Pulumi update. On the loopback sandbox that took about a second from the command's start; a remote backend and API server add their latency, so the budget does not use that figure.",
    },
    endpointSlices: {
        title: "Kubernetes documentation: EndpointSlices; kube-controller-manager reference, --endpointslice-updates-batch-period",
        urls: [
            "https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/",
            "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/",
        ],
        says: "The control plane's EndpointSlice controller rewrites a Service's slices when its selector changes; its updates are not batched by default (batch period 0). No latency is published.",
    },
    kubernetesRollout: {
        title: "This package: the Deployment's startup probe and rollout timeout (components/kubernetesModelEndpoint.ts)",
        urls: ["components/kubernetesModelEndpoint.ts"],
        says: "New pods must be scheduled, pull the image, load the model and turn ready; the update fails after rolloutTimeoutSeconds (default startupTimeoutSeconds + 300).",
    },
    byHand: {
        title: "People",
        urls: [],
        says: "How soon someone runs mlops rollback after being told is yours to measure.",
    },
} as const satisfies Record<string, FigureSource>;

export type FigureSourceId = keyof typeof FIGURE_SOURCES;

// The figures taken from the sources, named so that each number sits next
// to where it comes from. Typical figures are typical, not bounds. The new
// fleet's (sagemakerNewFleet) is REPORTED_NEW_FLEET_SECONDS, shared with the
// check that a deployment policy fits the provider's wait.

/** eventBridgeLatency: "a typical latency of about half a second". */
const TYPICAL_EVENTBRIDGE_SECONDS: SecondsRange = { low: 0.5, high: 0.5 };
/** lambdaColdStart: "from under 100 ms to over 1 second". */
const TYPICAL_COLD_START_SECONDS: SecondsRange = { low: 0.1, high: 1 };
/** sagemakerMetrics, containerInsightsInterval: published once a minute. */
const PUBLISHING_INTERVAL_SECONDS = 60;
/** AWS prices SageMaker instances per instance-hour; a month is counted as 730 hours (8,760 hours a year / 12). */
export const HOURS_PER_MONTH = 730;
/** kubeProxySync: the default minimum sync period in iptables mode. */
const KUBE_PROXY_MIN_SYNC_SECONDS = 1;
/** alarmEvaluation: how often an alarm with a period under a minute is evaluated. */
const HIGH_RESOLUTION_EVALUATION_SECONDS = 10;

export type BudgetPhase = "start" | "detect" | "trigger" | "restore";

export interface BudgetStep {
    readonly phase: BudgetPhase;
    readonly what: string;
    /** Undefined: not estimated (the source says why). */
    readonly seconds?: SecondsRange;
    readonly basis: FigureBasis;
    readonly source: FigureSourceId;
}

export type RestorePathKind = "guardrails" | "trigger" | "byHand";

export interface RestorePath {
    readonly kind: RestorePathKind;
    /** What starts and ends the clock, e.g. "After the bake: the alarm trigger moves the endpoint to version 2". */
    readonly title: string;
    readonly steps: readonly BudgetStep[];
    /** What the figures do not show: when this path restores nothing, or may be undone. */
    readonly notes: readonly string[];
    /** Set when this path restores nothing for this config, with why. */
    readonly restoresNothing?: string;
}

/**
 * What SageMaker's standby costs under `mlops:sagemaker.standby: hot`, or
 * would cost under `cold`, so that restore time can be weighed against
 * money. In instance-hours, not dollars: the package has no price list.
 * E.g. hot, standbyInstanceCount 2 of ml.m5.large: 2 × 730 = 1460
 * instance-hours a month.
 */
export interface StandbyCost {
    /** `mlops:sagemaker.standby`. */
    readonly mode: "hot" | "cold";
    /** The version on hot standby (hot), or that hot would keep running (cold): the default rollback target. */
    readonly version: string;
    /** `mlops:sagemaker.instanceType`, which the standby variant runs on too. */
    readonly instanceType: string;
    /** Instances running at weight 0: `standbyInstanceCount` (default `instanceCount`) under hot; under cold, what hot would run by default (`instanceCount`). */
    readonly standbyInstanceCount: number;
    /** `mlops:sagemaker.instanceCount`, the serving variant's: a rollback raises a smaller standby to it (by hand before moving traffic, the trigger in the same call). */
    readonly instanceCount: number;
    /** `standbyInstanceCount` × `hoursPerMonth`, in instance-hours a month: billed under hot, what hot would add under cold. */
    readonly instanceHoursPerMonth: number;
    /** The hours a month is counted as (`HOURS_PER_MONTH`, 730). */
    readonly hoursPerMonth: number;
}

export interface RestoreBudget {
    /** The version whose failure the budget is for. */
    readonly pinned: string;
    /** The version the alarm trigger (and `mlops rollback` without --version) restores. */
    readonly rollbackVersion?: string;
    readonly paths: readonly RestorePath[];
    /** Set when no alarm restores anything automatically, with why. */
    readonly noAutomaticRestore?: string;
    /**
     * Set when the config asks for SageMaker's guardrails but AWS excludes
     * this deployment from them (an Inf1 instance type, a renamed variant):
     * why, and so there is no guardrail path.
     */
    readonly guardrailsOff?: string;
    /** SageMaker with a rollback target: what the standby costs (hot) or would cost (cold). Unset on Kubernetes and when there is no rollback target. */
    readonly standby?: StandbyCost;
}

export interface RestoreBudgetOptions {
    /** The config the stack runs before this one (`mlops plan --against`): a change between the two can turn the guardrails off. */
    readonly deployedFrom?: StackConfig;
    /**
     * SageMaker hot standby: the endpoint config the stack records it runs
     * (`sagemaker.endpointVariants` of its `mlops` output). A rollback target
     * that is not one of its variants (after a rollback within it, say) is
     * cold. @default what the config alone would run
     */
    readonly endpointVariants?: EndpointVariantsRecord;
}

/**
 * The budget of every way this config restores traffic: SageMaker's own
 * guardrails during a deployment's bake, the alarm trigger, and a person
 * running `mlops rollback`. `servingHistory` is the stack's serving record
 * (`CatalogView.servingHistory`), which decides the rollback target.
 */
export function restoreBudget(config: StackConfig, servingHistory: readonly string[], options: RestoreBudgetOptions = {}): RestoreBudget {
    const rollbackVersion = defaultRollbackTarget({ ...config, servingHistory });
    const guardrailsOff = guardrailsConfigured(config) ? guardrailsExclusion(config, options.deployedFrom) : undefined;
    const guardrails = guardrailsConfigured(config) && guardrailsOff === undefined;
    // A rollback by hand deploys under the stack's policy again: a variant
    // renamed by this change stays as it is then, an Inf1 fleet does not.
    const rollbackGuardrails = guardrailsConfigured(config) && (config.sagemaker === undefined || guardrailsExcludedBy(config.sagemaker) === undefined);
    // The paths of a target the running config does not hold are cold, whatever the config says.
    const pathConfig = runsHot(config, rollbackVersion, options.endpointVariants) ? config : asCold(config);
    const paths: RestorePath[] = [];
    if (guardrails) paths.push(guardrailPath(config));
    if (config.alarms !== undefined && config.trigger !== undefined) paths.push(triggerPath(pathConfig, config.trigger, rollbackVersion));
    paths.push(byHandPath(pathConfig, rollbackVersion, rollbackGuardrails));
    const standby = standbyCost(config, rollbackVersion);
    return {
        pinned: config.pinned,
        rollbackVersion,
        paths,
        noAutomaticRestore: whyNoAutomaticRestore(config, guardrails),
        ...(guardrailsOff === undefined ? {} : { guardrailsOff }),
        ...(standby === undefined ? {} : { standby }),
    };
}

/** A SageMaker hot standby: the rollback target, running as a second variant at weight 0. */
interface HotStandby {
    readonly version: string;
    readonly variantName: string;
    readonly instanceType: string;
    /** The standby variant's instances. */
    readonly instances: number;
    /** The serving variant's (`instanceCount`): a rollback raises a smaller standby to it. */
    readonly servingInstances: number;
}

/**
 * The version on SageMaker hot standby: with `mlops:sagemaker.standby: hot`,
 * the default rollback target (`defaultRollbackTarget`), which runs as the
 * second variant at weight 0. Undefined under cold, on Kubernetes, and
 * when there is no rollback target. A rollback to it is one weights call;
 * to any other version it is cold (a new fleet).
 *
 * E.g. catalog 1..3, pinned 3, served [1, 2, 3], warm 2, hot: 2 (a rollback
 * to 1 starts a new fleet); the same under cold: undefined.
 */
export function hotStandbyVersion(config: StackConfig, servingHistory: readonly string[], running?: EndpointVariantsRecord): string | undefined {
    const target = defaultRollbackTarget({ ...config, servingHistory });
    return runsHot(config, target, running) ? hotStandbyOf(config, target)?.version : undefined;
}

/** Whether `target` runs as a variant of the endpoint's config: always under the config alone; with the stack's record, only if the record holds it. */
function runsHot(config: StackConfig, target: string | undefined, running: EndpointVariantsRecord | undefined): boolean {
    if (config.sagemaker?.standby !== "hot" || target === undefined) return false;
    return running === undefined || running.variants.some((variant) => variant.version === target);
}

function asCold(config: StackConfig): StackConfig {
    return config.sagemaker === undefined ? config : { ...config, sagemaker: { ...config.sagemaker, standby: "cold" } };
}

function hotStandbyOf(config: StackConfig, rollbackVersion: string | undefined): HotStandby | undefined {
    const sagemaker = config.sagemaker;
    if (config.target !== "sagemaker" || sagemaker === undefined || sagemaker.standby !== "hot" || rollbackVersion === undefined) return undefined;
    return {
        version: rollbackVersion,
        variantName: sagemaker.standbyVariantName,
        instanceType: sagemaker.instanceType,
        instances: sagemaker.standbyInstanceCount ?? sagemaker.instanceCount,
        servingInstances: sagemaker.instanceCount,
    };
}

/** The standby's instance-hours a month, billed (hot) or what hot would add at its default size (cold). */
function standbyCost(config: StackConfig, rollbackVersion: string | undefined): StandbyCost | undefined {
    const sagemaker = config.sagemaker;
    if (config.target !== "sagemaker" || sagemaker === undefined || rollbackVersion === undefined) return undefined;
    const standbyInstanceCount = sagemaker.standby === "hot" ? (sagemaker.standbyInstanceCount ?? sagemaker.instanceCount) : sagemaker.instanceCount;
    return {
        mode: sagemaker.standby,
        version: rollbackVersion,
        instanceType: sagemaker.instanceType,
        standbyInstanceCount,
        instanceCount: sagemaker.instanceCount,
        instanceHoursPerMonth: standbyInstanceCount * HOURS_PER_MONTH,
        hoursPerMonth: HOURS_PER_MONTH,
    };
}

/** Why AWS leaves this deployment without guardrails: the instance type, or a change from the config deployed before. */
function guardrailsExclusion(config: StackConfig, deployedFrom: StackConfig | undefined): string | undefined {
    if (config.sagemaker === undefined) return undefined;
    return (
        guardrailsExcludedBy(config.sagemaker) ??
        (deployedFrom === undefined ? undefined : guardrailsExcludedByChange(deployedFrom.sagemaker, config.sagemaker))
    );
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

function whyNoAutomaticRestore(config: StackConfig, guardrails: boolean): string | undefined {
    if (config.alarms !== undefined && config.trigger !== undefined) return undefined;
    if (guardrails)
        return "without mlops:trigger, alarms restore traffic only during a deployment's bake (SageMaker's guardrails); otherwise they notify people";
    if (config.alarms === undefined) return "no mlops:alarms, so nothing watches the endpoint: add mlops:alarms and mlops:trigger for an automatic restore";
    return "without mlops:trigger the alarms only notify people: add mlops:trigger for an automatic restore";
}

/** From a metric's first bad data point to the metric alarm in ALARM. */
function detectionSteps(config: StackConfig): BudgetStep[] {
    const alarms = config.alarms;
    if (alarms === undefined) return [];
    const period = alarms.periodSeconds;
    const needed = alarms.datapointsToAlarm;
    const evaluationSeconds = period >= 60 ? 60 : HIGH_RESOLUTION_EVALUATION_SECONDS;
    return [
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
            what: `CloudWatch evaluates the alarm every ${evaluationSeconds === 60 ? "minute" : `${evaluationSeconds} s`}`,
            seconds: { low: 0, high: evaluationSeconds },
            basis: "documented",
            source: "alarmEvaluation",
        },
        config.target === "sagemaker"
            ? publishedOnceAMinute("SageMaker publishes the endpoint's invocation metrics once a minute", "sagemakerMetrics")
            : customPublishingStep(alarms.custom.map((alarm) => alarm.namespace)),
    ];
}

function detectionNotes(config: StackConfig): string[] {
    const alarms = config.alarms;
    if (alarms === undefined || config.target !== "kubernetes" || alarms.periodSeconds >= PUBLISHING_INTERVAL_SECONDS) return [];
    return [
        `A ${alarms.periodSeconds} s alarm period is shorter than Container Insights' default 60 s interval: most periods then have no data and treatMissingData decides, so detection can take longer than shown.`,
    ];
}

/** A metric published once a minute: its latest data point can be up to a minute late. */
function publishedOnceAMinute(what: string, source: FigureSourceId): BudgetStep {
    return { phase: "detect", what, seconds: { low: 0, high: PUBLISHING_INTERVAL_SECONDS }, basis: "documented", source };
}

function customPublishingStep(namespaces: readonly string[]): BudgetStep {
    const containerInsightsOnly = namespaces.length > 0 && namespaces.every((namespace) => namespace === "ContainerInsights");
    if (containerInsightsOnly) {
        return publishedOnceAMinute("the CloudWatch agent publishes Container Insights metrics once a minute (its default)", "containerInsightsInterval");
    }
    return {
        phase: "detect",
        what: `your publisher's interval for ${[...new Set(namespaces)].join(", ")}`,
        basis: "not estimated",
        source: "containerInsightsInterval",
    };
}

/** SageMaker's own auto-rollback while a deployment bakes: the old fleet is still up. */
function guardrailPath(config: StackConfig): RestorePath {
    const detection: BudgetStep[] =
        config.alarms?.feedGuardrails === true
            ? detectionSteps(config)
            : [{ phase: "detect", what: "your rollbackAlarmNames alarms go to ALARM", basis: "not estimated", source: "alarmEvaluation" }];
    return {
        kind: "guardrails",
        title: "During a deployment's bake: SageMaker's guardrails shift traffic back to the old fleet",
        steps: [
            ...detection,
            {
                phase: "restore",
                what: "SageMaker shifts traffic back to the old fleet, which still runs until the bake ends",
                basis: "not estimated",
                source: "sagemakerGuardrails",
            },
        ],
        notes: detectionNotes(config),
    };
}

/** EventBridge → the trigger Lambda → the fast path (SageMaker) or a reconcile build (Kubernetes). */
function triggerPath(config: StackConfig, trigger: TriggerSettings, rollbackVersion: string | undefined): RestorePath {
    const instant = config.target === "kubernetes" && trigger.eks !== undefined && switchesInstantly(config.kubernetes);
    const title =
        config.target === "sagemaker"
            ? `After the bake: the alarm trigger moves the endpoint to version ${rollbackVersion ?? "(none)"}`
            : instant
              ? `The alarm trigger moves the Service to version ${rollbackVersion ?? "(none)"} (EKS instant switch)`
              : `The alarm trigger starts a reconcile build of mlops rollback --version ${rollbackVersion ?? "(none)"}`;
    if (rollbackVersion === undefined) {
        return {
            kind: "trigger",
            title,
            steps: [],
            notes: [],
            restoresNothing: `no warm version precedes ${config.pinned}, so the trigger fails closed and changes nothing`,
        };
    }
    const steps: BudgetStep[] = [
        ...detectionSteps(config),
        { phase: "detect", what: "the composite alarm follows its metric alarm", basis: "not estimated", source: "compositeAlarm" },
        { phase: "trigger", what: "CloudWatch hands the composite alarm's state change to EventBridge", basis: "not estimated", source: "compositeAlarm" },
        {
            phase: "trigger",
            what: "EventBridge delivers it to the Lambda (typical)",
            seconds: TYPICAL_EVENTBRIDGE_SECONDS,
            basis: "documented",
            source: "eventBridgeLatency",
        },
        { phase: "trigger", what: "the event waits in Lambda's asynchronous queue", basis: "not estimated", source: "lambdaColdStart" },
        {
            phase: "trigger",
            what: "Lambda starts the handler (a typical cold start)",
            seconds: TYPICAL_COLD_START_SECONDS,
            basis: "documented",
            source: "lambdaColdStart",
        },
        { phase: "trigger", what: "the handler's checks and calls", basis: "not estimated", source: "triggerHandler" },
    ];
    if (config.target === "sagemaker") {
        const hot = hotStandbyOf(config, rollbackVersion);
        return {
            kind: "trigger",
            title,
            steps: [...steps, ...(hot === undefined ? [newFleetStep(config, rollbackVersion, "all at once")] : hotStandbySteps(hot, "the handler"))],
            notes: [
                ...detectionNotes(config),
                `If SageMaker is still changing the endpoint, the handler re-checks it ${trigger.busyRechecks} times ${trigger.busyRecheckSeconds} s apart and then restores nothing: SageMaker's own rollback, or a person, must act.`,
                ...(hot === undefined ? [] : [...hotHandlerNotes(hot), ...partialRaiseNote(hot), noStandbyAfterNote(config.pinned, hot)]),
            ],
        };
    }
    if (instant) {
        return {
            kind: "trigger",
            title,
            steps: [...steps, ...kubernetesRollbackSteps(config.kubernetes, rollbackVersion, "the handler")],
            notes: [
                ...detectionNotes(config),
                ...kubernetesNotes(config.kubernetes, rollbackVersion).map((note) =>
                    note.startsWith("A Pulumi update then records")
                        ? "The reconcile build (CodeBuild, npm ci, mlops rollback) then records the rollback in the stack; it runs after traffic has moved, off the restore's path."
                        : note,
                ),
            ],
        };
    }
    return {
        kind: "trigger",
        title,
        steps: [
            ...steps,
            { phase: "restore", what: "CodeBuild queues and provisions the reconcile build", basis: "not estimated", source: "codebuildStart" },
            { phase: "restore", what: "the build installs the Pulumi CLI and runs npm ci", basis: "not estimated", source: "reconcileInstall" },
            ...kubernetesRollbackSteps(config.kubernetes, rollbackVersion),
        ],
        notes: [
            ...detectionNotes(config),
            ...(trigger.eks === undefined
                ? ["With mlops:trigger.eks (an EKS cluster), the handler moves the Service itself, without waiting for the build."]
                : []),
            ...kubernetesNotes(config.kubernetes, rollbackVersion),
        ],
    };
}

const KEPT_ALIVE_NOTE = "Connections kept alive stay on the old pods until they close.";

function newFleetStep(config: StackConfig, version: string, shift: string): BudgetStep {
    const fleet = config.sagemaker === undefined ? "a fleet" : `${config.sagemaker.instanceCount} × ${config.sagemaker.instanceType}`;
    return {
        phase: "restore",
        what: `SageMaker starts a new fleet (${fleet}) for version ${version}'s config and shifts traffic to it ${shift} (as reported for CreateEndpoint)`,
        seconds: REPORTED_NEW_FLEET_SECONDS,
        basis: "reported",
        source: "sagemakerNewFleet",
    };
}

/**
 * A rollback to the hot standby, none of whose steps has a published time.
 * `mlops rollback` raises a standby smaller than the serving variant first,
 * then moves all traffic with one UpdateEndpointWeightsAndCapacities call
 * and waits until DescribeEndpoint shows it (rollback/sagemakerWeightsSwitch.ts).
 * The trigger's handler, a Lambda that cannot wait minutes for instances,
 * moves the weight and raises the count in the one call (`hotHandlerNotes`).
 */
function hotStandbySteps(hot: HotStandby, by: "mlops rollback" | "the handler"): BudgetStep[] {
    const partial = hot.instances < hot.servingInstances;
    const weights = (what: string): BudgetStep => ({ phase: "restore", what, basis: "not estimated", source: "sagemakerWeights" });
    if (by === "the handler") {
        return [
            weights(
                partial
                    ? `the handler moves all traffic to variant ${hot.variantName} (version ${hot.version}, ${hot.instances} × ${hot.instanceType} running, hot standby) and raises it to ${hot.servingInstances} instances, in one UpdateEndpointWeightsAndCapacities call (partial standby)`
                    : `the handler moves all traffic to variant ${hot.variantName} (version ${hot.version}, ${hot.instances} × ${hot.instanceType} running, hot standby) with one UpdateEndpointWeightsAndCapacities call`,
            ),
        ];
    }
    return [
        ...(partial
            ? [
                  weights(
                      `mlops rollback raises variant ${hot.variantName} (version ${hot.version}) from ${hot.instances} to ${hot.servingInstances} instances with UpdateEndpointWeightsAndCapacities, and SageMaker adds the instances (partial standby)`,
                  ),
              ]
            : []),
        weights(
            `mlops rollback moves all traffic to variant ${hot.variantName} (version ${hot.version}, ${Math.max(hot.instances, hot.servingInstances)} × ${hot.instanceType} running, hot standby) with one UpdateEndpointWeightsAndCapacities call, confirmed with DescribeEndpoint`,
        ),
    ];
}

/** What the handler's one call leaves open with a partial standby: whether the weight waits for the added instances. */
function hotHandlerNotes(hot: HotStandby): string[] {
    if (hot.instances >= hot.servingInstances) return [];
    return [
        `The handler moves the weight and raises the count in one call (a Lambda does not wait minutes for instances); AWS does not say whether the weight applies before SageMaker has added the instances, so version ${hot.version} may serve all traffic on ${hot.instances} instance${hot.instances === 1 ? "" : "s"} until then, or traffic may move only once ${hot.servingInstances} run.`,
    ];
}

/**
 * After a hot rollback, the version left keeps its variant at weight 0, with
 * the instances it served with, and nothing is on hot standby until the next
 * deploy: what that costs meanwhile.
 */
function noStandbyAfterNote(pinned: string, hot: HotStandby): string {
    const left = `${hot.servingInstances} × ${hot.instanceType}`;
    return `After this rollback no version is on hot standby until the next deploy: version ${pinned} (quarantined) keeps running at weight 0 beside version ${hot.version}, on ${left} (${hot.servingInstances * HOURS_PER_MONTH} instance-hours a month while it does), until a forward deploy replaces the endpoint config.`;
}

/** A partial standby's raise starts instances much as a new fleet does: no figure for it, but minutes, not seconds. */
function partialRaiseNote(hot: HotStandby): string[] {
    if (hot.instances >= hot.servingInstances) return [];
    return [
        `Raising variant ${hot.variantName} from ${hot.instances} to ${hot.servingInstances} instances starts and loads instances as a new fleet does: AWS publishes no time for it, and users report 8.5 to 15 min for CreateEndpoint (sagemakerNewFleet). With standbyInstanceCount equal to instanceCount (${hot.servingInstances}) the rollback is the weights call alone.`,
    ];
}

/**
 * Whether a Kubernetes rollback to a warm version moves traffic with the
 * instant switch (rollback/kubernetesSwitch.ts, decideSwitch): a hot
 * standby, or a partial one with `rollbackAtReducedCapacity`. A partial
 * standby without it is scaled up by the update first.
 */
function switchesInstantly(kubernetes: KubernetesSettings | undefined): boolean {
    if (kubernetes === undefined) return false;
    const standby = kubernetes.standbyReplicas ?? kubernetes.replicas;
    return standby >= kubernetes.replicas || (standby > 0 && kubernetes.rollbackAtReducedCapacity);
}

/** A Kubernetes restore: the instant switch (`by`: mlops rollback, or the trigger's handler), or a Pulumi update that scales up, then moves the Service. */
function kubernetesRollbackSteps(kubernetes: KubernetesSettings | undefined, version: string, by = "mlops rollback"): BudgetStep[] {
    const replicas = kubernetes?.replicas ?? 0;
    const standby = kubernetes?.standbyReplicas ?? replicas;
    const steps: BudgetStep[] = [];
    if (switchesInstantly(kubernetes)) {
        steps.push({
            phase: "restore",
            what:
                standby >= replicas
                    ? `${by} moves the Service's selector to version ${version} with one compare-and-set write: its ${replicas} pods are running and ready (hot standby)`
                    : `${by} moves the Service's selector to version ${version}'s ${standby} ready pods of ${replicas} (rollbackAtReducedCapacity), one compare-and-set write`,
            basis: "not estimated",
            source: "instantSwitch",
        });
    } else {
        if (kubernetes !== undefined && standby < replicas) {
            const rolloutSeconds = rolloutTimeoutSeconds(kubernetes);
            steps.push({
                phase: "restore",
                what: `version ${version} scales from ${standby} to ${replicas} pods, which must start and load the model (the update fails after ${rolloutSeconds} s)`,
                seconds: { low: 0, high: rolloutSeconds },
                basis: "config",
                source: "kubernetesRollout",
            });
        }
        steps.push({
            phase: "restore",
            what: `mlops rollback's Pulumi update moves the Service to version ${version}'s pods`,
            basis: "not estimated",
            source: "pulumiUpdate",
        });
    }
    steps.push(
        { phase: "restore", what: `the EndpointSlice controller lists only version ${version}'s pods`, basis: "not estimated", source: "endpointSlices" },
        {
            phase: "restore",
            what: "kube-proxy's next sync on each node (iptables mode, default minimum sync period)",
            seconds: { low: 0, high: KUBE_PROXY_MIN_SYNC_SECONDS },
            basis: "documented",
            source: "kubeProxySync",
        },
        { phase: "restore", what: "the sync itself", basis: "not estimated", source: "kubeProxySync" },
    );
    return steps;
}

/** What a Kubernetes restore's figures leave out. */
function kubernetesNotes(kubernetes: KubernetesSettings | undefined, version: string): string[] {
    const notes = [KEPT_ALIVE_NOTE];
    const replicas = kubernetes?.replicas ?? 0;
    const standby = kubernetes?.standbyReplicas ?? replicas;
    if (switchesInstantly(kubernetes)) {
        notes.push("A Pulumi update then records the rollback in the stack; it runs after traffic has moved, off the restore's path.");
        if (standby < replicas) notes.push(`Until the update has scaled version ${version} to ${replicas} pods, ${standby} serve all the traffic.`);
    } else if (standby > 0 && standby < replicas) {
        notes.push(
            `With mlops:kubernetes.rollbackAtReducedCapacity: true, traffic would move at once to version ${version}'s ${standby} ready pods, and the update would scale up behind it.`,
        );
    }
    return notes;
}

/** A person runs `mlops rollback`: the restore without detection and trigger, under the stack's own deployment policy. */
function byHandPath(config: StackConfig, rollbackVersion: string | undefined, guardrails: boolean): RestorePath {
    const title = `By hand: mlops rollback${rollbackVersion === undefined ? "" : ` --version ${rollbackVersion}`}`;
    if (rollbackVersion === undefined) {
        const older = pinnableVersionsBefore(config);
        return {
            kind: "byHand",
            title,
            steps: [],
            notes: [],
            restoresNothing:
                older.length === 0
                    ? `no version precedes ${config.pinned} that may be pinned, so there is nothing to roll back to`
                    : `no warm version to roll back to from ${config.pinned}: a rollback to ${older[older.length - 1]} builds it first (a cold rollback, not budgeted here)`,
        };
    }
    const start: BudgetStep = { phase: "start", what: "someone decides and runs it", basis: "not estimated", source: "byHand" };
    if (config.target === "kubernetes") {
        return {
            kind: "byHand",
            title,
            steps: [start, ...kubernetesRollbackSteps(config.kubernetes, rollbackVersion)],
            notes: kubernetesNotes(config.kubernetes, rollbackVersion),
        };
    }
    const deployment = config.sagemaker?.deployment;
    const hot = hotStandbyOf(config, rollbackVersion);
    if (hot !== undefined) {
        const deploymentRules = [
            ...(deployment !== undefined && deployment.strategy !== "allAtOnce" ? [`the stack's ${deployment.strategy} policy`] : []),
            ...(guardrails ? ["SageMaker's guardrails"] : []),
        ];
        return {
            kind: "byHand",
            title,
            steps: [start, ...hotStandbySteps(hot, "mlops rollback")],
            notes: [
                "A Pulumi update then records the rollback in the stack; it runs after traffic has moved, off the restore's path.",
                ...(deploymentRules.length === 0
                    ? []
                    : [
                          `The weights call is not a deployment (it takes no deployment config): all traffic moves in the one call, outside ${deploymentRules.join(" and ")}, which are UpdateEndpoint's.`,
                      ]),
                ...partialRaiseNote(hot),
                noStandbyAfterNote(config.pinned, hot),
            ],
        };
    }
    const update: BudgetStep = {
        phase: "restore",
        what: "mlops rollback's Pulumi update reaches UpdateEndpoint",
        basis: "not estimated",
        source: "pulumiUpdate",
    };
    const shift = deployment === undefined || deployment.strategy === "allAtOnce" ? "all at once" : `by its ${deployment.strategy} policy`;
    return {
        kind: "byHand",
        title,
        steps: [start, update, newFleetStep(config, rollbackVersion, shift), ...trafficShiftSteps(deployment, config.sagemaker?.instanceCount ?? 1)],
        notes: guardrails
            ? [
                  `The stack's deployment policy applies, guardrails included: while its alarms are still in ALARM because of version ${config.pinned}, SageMaker can roll this update back during the bake, and mlops rollback then fails, saying what serves. The alarm trigger's fast path avoids that by shifting all at once without a bake.`,
              ]
            : [],
    };
}

/**
 * The waits of a canary or linear shift before all traffic is on the new
 * fleet (`waitsBeforeFullShift`, the arithmetic that also checks a policy
 * against the provider's wait). Steps are a percentage of the instances,
 * and whole instances move; SageMaker does not document how it rounds, so
 * the count is a range.
 */
function trafficShiftSteps(deployment: DeploymentSettings | undefined, instanceCount: number): BudgetStep[] {
    if (deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined) return [];
    const waits = waitsBeforeFullShift(deployment, instanceCount);
    if (waits.most === 0) return [];
    const wait = deployment.waitIntervalSeconds;
    const count = waits.fewest === waits.most ? `${waits.fewest}` : `${waits.fewest}-${waits.most}`;
    return [
        {
            phase: "restore",
            what: `the ${deployment.strategy} shift (${deployment.stepPercent}% of ${instanceCount} instances per step) waits ${count} × ${wait} s before all traffic is on the new fleet`,
            seconds: { low: waits.fewest * wait, high: waits.most * wait },
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

/** The budget as text: one block per path, every step with its figure, basis and source id, then the path's notes. */
export function renderRestoreBudget(budget: RestoreBudget): string[] {
    const lines = [`Time to restore if version ${budget.pinned} goes bad (estimated; the source of every figure is in BENCHMARKS.md):`];
    if (budget.noAutomaticRestore !== undefined) lines.push(`  No automatic restore: ${budget.noAutomaticRestore}.`);
    if (budget.guardrailsOff !== undefined) lines.push(`  No restore by SageMaker's guardrails: ${budget.guardrailsOff}.`);
    for (const path of budget.paths) {
        if (path.restoresNothing !== undefined) {
            lines.push(`  ${path.title}: restores nothing: ${path.restoresNothing}.`);
            continue;
        }
        const { seconds, notEstimated } = pathTotal(path);
        const leftOut = notEstimated.length === 0 ? "" : `, plus ${notEstimated.length} step${notEstimated.length === 1 ? "" : "s"} not estimated`;
        // A total of ~0 s would understate a path none of whose steps has a figure (a rollback to a hot standby).
        const total =
            path.steps.length > 0 && notEstimated.length === path.steps.length
                ? `not estimated (none of its ${path.steps.length} steps has a figure)`
                : `${formatRange(seconds)}${leftOut}`;
        lines.push(`  ${path.title}: ${total}`);
        for (const step of path.steps) {
            const figure = step.seconds === undefined ? "not estimated" : formatRange(step.seconds);
            lines.push(`    ${step.phase.padEnd(7)} ${figure.padEnd(22)} ${step.what}  [${step.basis}; ${step.source}]`);
        }
        for (const note of path.notes) lines.push(`    Note: ${note}`);
    }
    if (budget.standby !== undefined) lines.push(`  ${standbyLine(budget.standby)}`);
    return lines;
}

/**
 * The standby's cost, in instance-hours a month at the configured type,
 * e.g. `Hot standby: version 2 on 1 × ml.g5.xlarge running at weight 0,
 * 730 instance-hours a month (...)`; under cold, what hot would buy and cost.
 */
function standbyLine(standby: StandbyCost): string {
    const billing = `(AWS prices instances per instance-hour; a month counted as ${standby.hoursPerMonth} hours)`;
    const fleet = `${standby.standbyInstanceCount} × ${standby.instanceType} running at weight 0, ${standby.instanceHoursPerMonth} instance-hours a month`;
    if (standby.mode === "cold") {
        return `Standby: cold: a rollback to version ${standby.version} starts a new fleet (the steps above). With mlops:sagemaker.standby: hot it would be one weights call, for ${fleet} ${billing}.`;
    }
    const partial =
        standby.standbyInstanceCount < standby.instanceCount
            ? `; a rollback raises it to ${standby.instanceCount} instances, as many as serve (partial standby: see the steps above)`
            : "";
    return `Hot standby: version ${standby.version} on ${fleet} ${billing}${partial}.`;
}
