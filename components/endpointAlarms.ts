/**
 * The alarms that say a model version is bad: CloudWatch metric alarms on
 * the serving endpoint, one composite alarm over them (what the rollback
 * trigger listens to), and an SNS topic, encrypted with a customer-managed
 * key, that hears the composite alarm.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
    componentArgsMessage,
    DEFAULTS,
    missingDataTreatment,
    parseAlarmArgs,
    type AlarmComparison,
    type AlarmSettings,
    type AlarmSettingsInput,
    type MissingDataTreatment,
    type Target,
} from "../config/schema";

export interface EndpointAlarmsArgs {
    /** Starts every alarm name, e.g. `fraud-detector-prod`; alarm names are the alarms' identity, so keep it stable. */
    readonly alarmNamePrefix: string;
    /** What serves the model (`mlops:target`): on sagemaker the built-in endpoint alarms, on kubernetes only `settings.custom`. */
    readonly target: Target;
    /** `mlops:alarms`: thresholds, periods and custom metrics (kubernetes needs at least one custom alarm). @default {} */
    readonly settings?: AlarmSettingsInput;
    /** The SageMaker endpoint the built-in alarms watch; required for the sagemaker target. */
    readonly endpointName?: pulumi.Input<string>;
    /** The endpoint's variant (sagemaker target only). @default "primary" */
    readonly variantName?: string;
    /**
     * Under hot standby, the endpoint config's other variant (`standbyVariantName`):
     * the built-in alarms then watch both variants together, so that they
     * watch whichever serves (after a rollback within the config, and during
     * the next deploy's bake) without a change to the alarms. @default none
     */
    readonly standbyVariantName?: string;
    /** Extra tags on every child. @default {} */
    readonly tags?: Record<string, string>;
}

/** What `alarmSpecs` reads: the args, parsed. */
export interface AlarmSpecArgs {
    readonly alarmNamePrefix: string;
    readonly target: Target;
    readonly settings: AlarmSettings;
    readonly endpointName?: pulumi.Input<string>;
    readonly variantName?: string;
    readonly standbyVariantName?: string;
}

export class EndpointAlarms extends pulumi.ComponentResource {
    /** The SNS topic the composite alarm (and the rollback trigger) publishes to. */
    public readonly topicArn: pulumi.Output<string>;
    /** The customer-managed KMS key the topic is encrypted with. */
    public readonly topicKeyArn: pulumi.Output<string>;
    /** The alarm the rollback trigger listens to: ALARM when any metric alarm is. */
    public readonly compositeAlarmName: pulumi.Output<string>;
    public readonly compositeAlarmArn: pulumi.Output<string>;
    /** The metric alarms' names, in `alarmSpecs` order. */
    public readonly metricAlarmNames: pulumi.Output<string[]>;

    constructor(name: string, args: EndpointAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:aws:EndpointAlarms", name, {}, opts);
        // Defaults and checks of the stack config's own schema: what `pulumi up` refuses, the component refuses too.
        const parsed = parseAlarmArgs(args);
        if (!parsed.success) throw new pulumi.ResourceError(componentArgsMessage("EndpointAlarms", name, parsed.problems), this);
        const { settings } = parsed.data;
        const tags = { ...args.tags };
        const account = aws.getCallerIdentityOutput({}, { parent: this });
        const partition = aws.getPartitionOutput({}, { parent: this });

        const key = new aws.kms.Key(
            `${name}-topic-key`,
            {
                description: `Encrypts the alarm topic of ${args.alarmNamePrefix} (mlops-rollback)`,
                enableKeyRotation: true,
                deletionWindowInDays: 30,
                policy: pulumi
                    .all([partition.partition, account.accountId])
                    .apply(([partitionName, accountId]) => JSON.stringify(alarmTopicKeyPolicy(partitionName, accountId))),
                tags,
            },
            { parent: this },
        );
        const topic = new aws.sns.Topic(`${name}-topic`, { kmsMasterKeyId: key.arn, tags }, { parent: this });

        const metricAlarms = alarmSpecs({ ...args, ...parsed.data }).map(
            (spec) =>
                new aws.cloudwatch.MetricAlarm(
                    `${name}-${spec.suffix}`,
                    {
                        // Explicit names: the endpoint's guardrails and the
                        // trigger find the alarms by name, and a threshold
                        // change must update an alarm, never rename it.
                        name: spec.alarmName,
                        alarmDescription: spec.description,
                        comparisonOperator: spec.comparisonOperator,
                        threshold: spec.threshold,
                        evaluationPeriods: settings.evaluationPeriods,
                        datapointsToAlarm: settings.datapointsToAlarm,
                        treatMissingData: spec.treatMissingData,
                        ...spec.metric,
                        // The composite alarm notifies; one message per incident, not one per metric.
                        actionsEnabled: true,
                        tags,
                    },
                    { parent: this },
                ),
        );

        const compositeName = compositeAlarmName(args.alarmNamePrefix);
        const composite = new aws.cloudwatch.CompositeAlarm(
            `${name}-rollback`,
            {
                alarmName: compositeName,
                alarmDescription: `A version of ${args.alarmNamePrefix} is failing: any of its alarms is in ALARM. The mlops rollback trigger listens to this alarm.`,
                alarmRule: pulumi.all(metricAlarms.map((alarm) => alarm.name)).apply(compositeAlarmRule),
                actionsEnabled: true,
                alarmActions: [topic.arn],
                okActions: [topic.arn],
                tags,
            },
            { parent: this },
        );

        this.topicArn = topic.arn;
        this.topicKeyArn = key.arn;
        this.compositeAlarmName = composite.alarmName;
        this.compositeAlarmArn = composite.arn;
        this.metricAlarmNames = pulumi.all(metricAlarms.map((alarm) => alarm.name));
        this.registerOutputs({
            topicArn: this.topicArn,
            topicKeyArn: this.topicKeyArn,
            compositeAlarmName: this.compositeAlarmName,
            compositeAlarmArn: this.compositeAlarmArn,
            metricAlarmNames: this.metricAlarmNames,
        });
    }
}

type ComparisonOperator = "GreaterThanThreshold" | "GreaterThanOrEqualToThreshold" | "LessThanThreshold" | "LessThanOrEqualToThreshold";

/** One metric alarm, as plain data: what `EndpointAlarms` declares and tests check without mocks. */
export interface AlarmSpec {
    /** The child-name suffix and the end of the alarm name. */
    readonly suffix: string;
    readonly alarmName: string;
    readonly description: string;
    readonly comparisonOperator: ComparisonOperator;
    readonly threshold: number;
    readonly treatMissingData: MissingDataTreatment;
    /** Either a single metric or metric math (`metricQueries`). */
    readonly metric: SingleMetric | { readonly metricQueries: aws.types.input.cloudwatch.MetricAlarmMetricQuery[] };
}

interface SingleMetric {
    readonly namespace: string;
    readonly metricName: string;
    readonly dimensions: Record<string, pulumi.Input<string>>;
    readonly period: number;
    readonly statistic?: string;
    readonly extendedStatistic?: string;
}

const COMPARISON: Record<AlarmComparison, ComparisonOperator> = {
    greaterThan: "GreaterThanThreshold",
    greaterThanOrEqual: "GreaterThanOrEqualToThreshold",
    lessThan: "LessThanThreshold",
    lessThanOrEqual: "LessThanOrEqualToThreshold",
};

/**
 * An alarm's comparison and what missing data counts as, decided together for
 * built-in and custom alarms alike: a floor treats missing data as breaching
 * unless the alarm says otherwise (`missingDataTreatment`).
 */
function thresholdRule(comparison: AlarmComparison, treatMissingData?: MissingDataTreatment): Pick<AlarmSpec, "comparisonOperator" | "treatMissingData"> {
    return { comparisonOperator: COMPARISON[comparison], treatMissingData: missingDataTreatment({ comparison, treatMissingData }) };
}

export function compositeAlarmName(prefix: string): string {
    return `${prefix}-rollback`;
}

/**
 * The metric alarms for a target. SageMaker: the 5XX error rate (metric math
 * over `Invocations`, so that a traffic spike alone never alarms), the p99
 * `ModelLatency`, the 4XX rate when asked for, then the custom alarms.
 * Kubernetes: the custom alarms only. The built-ins are ceilings, so missing
 * data does not breach them (no traffic is not a failing model); a custom
 * floor alarm breaches on missing data unless it says otherwise.
 */
export function alarmSpecs(args: AlarmSpecArgs): AlarmSpec[] {
    const { alarmNamePrefix: prefix, settings } = args;
    const specs: AlarmSpec[] = [];
    if (args.target === "sagemaker") {
        if (args.endpointName === undefined) throw new Error("the sagemaker alarms need the endpoint name");
        const variants = [args.variantName ?? DEFAULTS.sagemaker.variantName, ...(args.standbyVariantName === undefined ? [] : [args.standbyVariantName])];
        const dimensions = variants.map((variantName) => ({ EndpointName: args.endpointName as pulumi.Input<string>, VariantName: variantName }));
        const errorRate = settings.errorRatePercent ?? DEFAULTS.alarms.errorRatePercent;
        specs.push(errorRateSpec(prefix, "5xx-rate", "Invocation5XXErrors", errorRate, settings.periodSeconds, dimensions));
        const latencyMs = settings.latencyP99Ms ?? DEFAULTS.alarms.latencyP99Ms;
        specs.push({
            suffix: "latency-p99",
            alarmName: `${prefix}-latency-p99`,
            description: `p99 model latency above ${latencyMs} ms`,
            ...thresholdRule("greaterThan"),
            // ModelLatency is reported in microseconds; the config is in ms.
            threshold: latencyMs * 1000,
            metric: latencyMetric(dimensions, settings.periodSeconds),
        });
        if (settings.clientErrorRatePercent !== undefined) {
            specs.push(errorRateSpec(prefix, "4xx-rate", "Invocation4XXErrors", settings.clientErrorRatePercent, settings.periodSeconds, dimensions));
        }
    }
    for (const custom of settings.custom) {
        const percentile = custom.statistic.startsWith("p");
        specs.push({
            suffix: custom.name,
            alarmName: `${prefix}-${custom.name}`,
            description: `${custom.namespace} ${custom.metricName} ${custom.statistic} ${custom.comparison} ${custom.threshold}`,
            ...thresholdRule(custom.comparison, custom.treatMissingData),
            threshold: custom.threshold,
            metric: {
                namespace: custom.namespace,
                metricName: custom.metricName,
                dimensions: custom.dimensions,
                period: settings.periodSeconds,
                statistic: percentile ? undefined : custom.statistic,
                extendedStatistic: percentile ? custom.statistic : undefined,
            },
        });
    }
    return specs;
}

/**
 * The p99 ModelLatency of the variants: one metric for one variant; for
 * two (hot standby), the larger of their p99s (a weight-0 variant has no
 * data and drops out of MAX), so the alarm watches whichever serves.
 */
function latencyMetric(dimensions: Record<string, pulumi.Input<string>>[], period: number): AlarmSpec["metric"] {
    if (dimensions.length === 1) {
        return { namespace: "AWS/SageMaker", metricName: "ModelLatency", dimensions: dimensions[0], period, extendedStatistic: "p99" };
    }
    return {
        metricQueries: [
            ...dimensions.map((variant, index) => ({
                id: `latency${index}`,
                metric: { namespace: "AWS/SageMaker", metricName: "ModelLatency", dimensions: variant, period, stat: "p99" },
                returnData: false,
            })),
            { id: "latency", expression: `MAX([${dimensions.map((_, index) => `latency${index}`).join(", ")}])`, label: "ModelLatency p99", returnData: true },
        ],
    };
}

function errorRateSpec(
    prefix: string,
    suffix: string,
    errorMetric: string,
    percent: number,
    period: number,
    dimensions: Record<string, pulumi.Input<string>>[],
): AlarmSpec {
    const metric = (metricName: string, variant: Record<string, pulumi.Input<string>>) => ({
        metric: { namespace: "AWS/SageMaker", metricName, dimensions: variant, period, stat: "Sum" },
    });
    // One variant: the rate of its metrics. Two (hot standby): of their sums, missing data (a weight-0 variant) as 0.
    const queries =
        dimensions.length === 1
            ? [
                  { id: "errors", ...metric(errorMetric, dimensions[0]), returnData: false },
                  { id: "invocations", ...metric("Invocations", dimensions[0]), returnData: false },
              ]
            : dimensions.flatMap((variant, index) => [
                  { id: `errors${index}`, ...metric(errorMetric, variant), returnData: false },
                  { id: `invocations${index}`, ...metric("Invocations", variant), returnData: false },
              ]);
    const sum = (name: string) => (dimensions.length === 1 ? name : `SUM([${dimensions.map((_, index) => `FILL(${name}${index}, 0)`).join(", ")}])`);
    return {
        suffix,
        alarmName: `${prefix}-${suffix}`,
        description: `${errorMetric} above ${percent}% of invocations`,
        ...thresholdRule("greaterThan"),
        threshold: percent,
        metric: {
            metricQueries: [
                ...queries,
                // IF: no invocations is a rate of 0, not a division by zero.
                {
                    id: "rate",
                    expression: `IF(${sum("invocations")} > 0, 100 * ${sum("errors")} / ${sum("invocations")}, 0)`,
                    label: `${errorMetric} %`,
                    returnData: true,
                },
            ],
        },
    };
}

/** The names the endpoint's deployment guardrails watch: every metric alarm (SageMaker takes metric alarms, not composites). */
export function guardrailAlarmNames(args: Pick<AlarmSpecArgs, "alarmNamePrefix" | "settings">): string[] {
    if (!args.settings.feedGuardrails) return [];
    return alarmSpecs({ ...args, target: "sagemaker", endpointName: "-" }).map((spec) => spec.alarmName);
}

export function compositeAlarmRule(alarmNames: string[]): string {
    return alarmNames.map((alarmName) => `ALARM(${JSON.stringify(alarmName)})`).join(" OR ");
}

/**
 * The topic key's policy: the account administers it through IAM, and
 * CloudWatch may use it to publish alarm notifications (it cannot publish
 * to a topic encrypted with the AWS-managed aws/sns key). In a key policy
 * `Resource: "*"` means this key.
 */
export function alarmTopicKeyPolicy(partition: string, accountId: string): object {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "AccountAdministersKeyThroughIam",
                Effect: "Allow",
                Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
                Action: "kms:*",
                Resource: "*",
            },
            {
                Sid: "CloudWatchPublishesAlarms",
                Effect: "Allow",
                Principal: { Service: "cloudwatch.amazonaws.com" },
                Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
                Resource: "*",
                Condition: { StringEquals: { "aws:SourceAccount": accountId } },
            },
        ],
    };
}
