/**
 * The stack config contract: every `mlops:*` key, validated in one place.
 *
 * `parseStackConfig(raw)` takes a plain object (keys without the `mlops:`
 * namespace) so that the Pulumi program, the CLI and tests under Pulumi's mock
 * runtime (which cannot mock stack config, pulumi/pulumi#16042) all parse the
 * same way. Every problem is collected and reported at once, each named by its
 * config path, e.g. `mlops:versions[2].image`.
 */
import { distance as levenshtein } from "fastest-levenshtein";
import { z } from "zod";
import { BadInputError } from "./badInput";
import {
    derivedNameKey,
    longestDerivedName,
    MAX_DERIVED_NAME_LENGTH,
    MAX_MODEL_LENGTH_WITH_TRIGGER,
    TRIGGER_COMPONENT_SUFFIX,
    triggerNameProblem,
} from "../catalog/names";
import { deploymentPolicyProblems, type PolicySettings } from "./deploymentPolicy";
import type { ConfigWarning } from "./deploymentPolicy";

export const CONFIG_NAMESPACE = "mlops";

export const DEFAULTS = {
    warm: 1,
    quarantined: [] as string[],
    sagemaker: {
        instanceCount: 1,
        // One variant name for every version: SageMaker guardrails only bake
        // (blue/green) when the variant name is the same before and after.
        variantName: "primary",
        // Cold: a warm version is its Model and config only, no instances
        // (no cost; a rollback starts a new fleet). Hot doubles the bill of a
        // full-size standby, so it is chosen, never assumed.
        standby: "cold" as const,
        standbyVariantName: "standby",
        deployment: {
            strategy: "allAtOnce" as const,
            waitIntervalSeconds: 300,
            bakeTimeSeconds: 0,
        },
    },
    kubernetes: {
        namespace: "default",
        createNamespace: false,
        replicas: 2,
        port: 8080,
        servicePort: 80,
        serviceType: "ClusterIP" as const,
        readinessPath: "/ready",
        livenessPath: "/healthz",
        // Model loading is slow: the startup probe gives a new pod this long
        // before the liveness probe may restart it.
        startupTimeoutSeconds: 600,
        rollbackAtReducedCapacity: false,
        resources: {
            requests: { cpu: "500m", memory: "1Gi" },
            limits: { cpu: "2", memory: "2Gi" },
        },
    },
    alarms: {
        periodSeconds: 60,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        errorRatePercent: 5,
        latencyP99Ms: 1000,
    },
    trigger: {
        // Long enough for the reconcile run to finish and for the alarm to
        // settle on the restored version before another rollback is allowed.
        cooldownSeconds: 1800,
        maxEventAgeSeconds: 900,
        busyRechecks: 4,
        busyRecheckSeconds: 20,
        logRetentionDays: 30,
    },
    database: {
        // RDS allows 0..35; below 7 days a bad model found late has no point-in-time restore left.
        backupRetentionDays: 7,
        username: "mlops",
        multiAz: false,
    },
} as const;

/** Version ids: short, and safe to derive resource names from. */
export const VERSION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

const IMAGE_HOST = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?";
const IMAGE_PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";

/** `[host[:port]/]repository[:tag]@sha256:<64 lowercase hex>`: the digest is what pins it. */
export const IMAGE_BY_DIGEST_PATTERN = new RegExp(
    `^(?:${IMAGE_HOST}/)?${IMAGE_PATH_COMPONENT}(?:/${IMAGE_PATH_COMPONENT})*(?::${IMAGE_TAG})?@sha256:[a-f0-9]{64}$`,
);

/**
 * SageMaker pulls only from ECR (other registries need a VPC-reachable private
 * registry, which this package does not configure), and a tag next to the
 * digest is rejected by CreateModel.
 */
export const ECR_IMAGE_PATTERN =
    /^(?<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/(?<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)@sha256:[a-f0-9]{64}$/;

/** An S3 object (not a prefix): `s3://bucket/key` with a key that does not end in `/`. */
export const S3_OBJECT_PATTERN = /^s3:\/\/(?<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(?<key>[^/].*[^/]|[^/])$/;

/**
 * Whether an artifact URI names one S3 object that an IAM policy can name
 * exactly: a valid bucket name, and a key without the IAM wildcards `*` and
 * `?` (which would widen the role's read access), whitespace or control
 * characters.
 */
export function isExactS3Object(uri: string): boolean {
    const groups = S3_OBJECT_PATTERN.exec(uri)?.groups;
    if (groups === undefined) return false;
    const { bucket, key } = groups;
    const validBucket = !bucket.includes("..") && !bucket.includes(".-") && !bucket.includes("-.") && !/^\d+\.\d+\.\d+\.\d+$/.test(bucket);
    // eslint-disable-next-line no-control-regex
    return validBucket && !/[*?\s\x00-\x1f\x7f]/.test(key);
}

const DNS_LABEL_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SAGEMAKER_NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const IAM_ROLE_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[\w/-]+$/;
const ALARM_NAME_PATTERN = /^[^\s][\x20-\x7e]{0,254}$/;

/** A version id as a person writes it: a string, or a whole number as YAML reads an unquoted `3`. */
export type VersionIdInput = string | number;

/**
 * A version id as written in YAML. An unquoted `3` is read as a number; an
 * integer is safe to turn back into the string the user meant, a decimal such
 * as `2.10` is not (it reads as 2.1), so that one must be quoted. `custom`
 * only types the input: the transform checks every value, so that each wrong
 * one gets its own message.
 */
const versionId = z
    .custom<VersionIdInput>()
    .transform((value, ctx): string => {
        if (typeof value === "string") return value;
        if (typeof value === "number" && Number.isInteger(value) && value >= 0) return String(value);
        ctx.addIssue({
            code: "custom",
            message:
                value === undefined
                    ? 'required: a version id, e.g. "3"'
                    : typeof value === "number"
                      ? 'quote a version id that is not a whole number (write "2.10", not 2.10)'
                      : 'expected a version id, e.g. "3"',
        });
        return z.NEVER;
    })
    // z.custom has no JSON Schema of its own: say what a person may write.
    .meta({ type: ["string", "integer"] });

const versionSchema = z
    .object({
        version: versionId
            .pipe(
                z.string().regex(VERSION_ID_PATTERN, {
                    message: "a version id is 1-32 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
                }),
            )
            .describe(
                "The version id: 1-32 letters, digits, `.`, `_` or `-`, starting with a letter or digit (on Kubernetes also ending with one: it is a label value); quote it. Unique, also once turned into resource names (`v2.1` and `v2-1` are one SageMaker name).",
            ),
        image: z
            .string()
            .regex(IMAGE_BY_DIGEST_PATTERN, {
                message: "pin the image by digest: <registry>/<repository>@sha256:<64 lowercase hex>; tags such as :latest can change under a pinned version",
            })
            .describe(
                "The container image, pinned by digest: `<registry>/<repository>@sha256:<64 lowercase hex>`. For SageMaker an ECR image without a tag, `<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>`.",
            ),
        artifact: z
            .string()
            .refine(isExactS3Object, {
                message:
                    "the artifact is one S3 object, s3://<bucket>/<key>: a valid bucket name, and a key that does not end in '/' (a prefix) and has no '*', '?' or whitespace (IAM would read them as wildcards)",
            })
            .optional()
            .describe(
                "The model artifact, exactly one S3 object `s3://<bucket>/<key>`: not a prefix, and no `*`, `?` or whitespace in the key (the role's policy names it). Required for SageMaker; optional on Kubernetes, where the pods get it as `MLOPS_MODEL_ARTIFACT`.",
            ),
    })
    .strict();

const deploymentSchema = z
    .object({
        strategy: z
            .enum(["allAtOnce", "canary", "linear"])
            .default(DEFAULTS.sagemaker.deployment.strategy)
            .describe(
                "How traffic shifts to the new fleet: all at once, a `canary` step of `stepPercent` and then the rest, or `linear` steps of `stepPercent`.",
            ),
        stepPercent: z
            .number()
            .int()
            .min(1)
            .max(50, { message: "SageMaker shifts at most 50% of the fleet per step" })
            .optional()
            .describe(
                "Canary size (1-50) or linear step (10-50), in percent of the variant's instance count; required for `canary` and `linear`, refused for `allAtOnce`.",
            ),
        waitIntervalSeconds: z
            .number()
            .int()
            .min(0)
            .max(3600)
            .default(DEFAULTS.sagemaker.deployment.waitIntervalSeconds)
            .describe("The baking period after each traffic step (all at once: after its one step), in seconds."),
        bakeTimeSeconds: z
            .number()
            .int()
            .min(0)
            .max(3600)
            .default(DEFAULTS.sagemaker.deployment.bakeTimeSeconds)
            .describe("The final bake before the old fleet ends (`terminationWaitInSeconds`), in seconds."),
        // 600..14400 is what the provider accepts (terraform-provider-aws
        // internal/service/sagemaker/endpoint.go, IntBetween(600, 14400)).
        maximumExecutionTimeoutSeconds: z
            .number()
            .int()
            .min(600, { message: "600..14400 seconds" })
            .max(14400, { message: "600..14400 seconds" })
            .optional()
            .describe("The longest a deployment may run, in seconds (the provider's range). Unset: SageMaker's."),
        rollbackAlarmNames: z
            .array(z.string().regex(ALARM_NAME_PATTERN, { message: "an alarm name is 1-255 printable characters" }))
            .max(10, { message: "SageMaker accepts at most 10 rollback alarms" })
            .refine((names) => new Set(names).size === names.length, { message: "an alarm is listed twice" })
            .default([])
            .describe(
                "Existing CloudWatch alarms that roll a deployment back during the bake, besides those `mlops:alarms` feeds the guardrails; at most 10 in all.",
            ),
    })
    .strict()
    .describe(
        "The blue/green deployment policy of an endpoint update (the endpoint's `deploymentConfig`); it must end within the AWS provider's 60-minute wait.",
    );

const variantNameSchema = z.string().regex(SAGEMAKER_NAME_PATTERN, { message: "a variant name is 1-63 letters, digits and hyphens" });

const sagemakerSchema = z
    .object({
        instanceType: z
            .string()
            .regex(/^ml\.[a-z0-9]+(?:-[a-z0-9]+)?\.[a-z0-9]+$/, {
                message: "a SageMaker instance type starts with 'ml.', e.g. ml.m5.large",
            })
            .describe("The instance type of every variant, an `ml.*` type such as `ml.m5.large`."),
        instanceCount: z
            .number()
            .int()
            .min(1, { message: "instanceCount must be at least 1" })
            .default(DEFAULTS.sagemaker.instanceCount)
            .describe("Instances of the serving version."),
        variantName: variantNameSchema
            .default(DEFAULTS.sagemaker.variantName)
            .describe(
                "The production variant's name (1-63 letters, digits and `-`), the same for every version: SageMaker's guardrails only bake when it stays the same; renaming it deploys all at once with no bake, and `mlops plan --against` warns.",
            ),
        standby: z
            .enum(["hot", "cold"], { message: "standby is 'hot' (a running weight-0 variant) or 'cold' (no instances)" })
            .default(DEFAULTS.sagemaker.standby)
            .describe(
                "`cold`: a warm version is its Model and endpoint config only, no instances (no cost; a rollback starts a new fleet, minutes). `hot`: the endpoint config also runs the rollback target as a second production variant at weight 0, so that a rollback to it is one `UpdateEndpointWeightsAndCapacities` call (seconds); it costs the standby's instances and needs `mlops:warm` of 1 or more.",
            ),
        standbyInstanceCount: z
            .number()
            .int()
            .min(1, { message: "standbyInstanceCount must be at least 1 (SageMaker runs no variant on 0 instances)" })
            .optional()
            .describe(
                "Hot standby only: instances of the standby variant, at most `instanceCount`; below it, `mlops rollback` raises it before it moves the weight. Unset: `instanceCount` (a full-size standby).",
            ),
        standbyVariantName: variantNameSchema
            .default(DEFAULTS.sagemaker.standbyVariantName)
            .describe(
                "Hot standby only: the second production variant's name, not `variantName`; like it, the same across versions, as SageMaker's guardrails need.",
            ),
        executionRoleArn: z
            .string()
            .regex(IAM_ROLE_ARN_PATTERN, { message: "expected an IAM role ARN, arn:aws:iam::<account>:role/<name>" })
            .optional()
            .describe(
                "The IAM role ARN the Models run as, `arn:aws:iam::<account>:role/<name>`. Unset: a role the stack creates, scoped to the warm versions.",
            ),
        kmsKeyArn: z
            .string()
            .regex(KMS_KEY_ARN_PATTERN, { message: "expected a KMS key or alias ARN" })
            .optional()
            .describe(
                "KMS key (or alias) ARN for the instances' storage volumes; refused for instance types with local NVMe storage (such as `ml.g5`), which SageMaker rejects. Unset: a key the stack creates, `<model>-storage-key`, or none on local-NVMe types.",
            ),
        vpc: z
            .object({
                subnetIds: z
                    .array(z.string().regex(/^subnet-[0-9a-f]+$/, { message: "expected a subnet id, subnet-…" }))
                    .min(1)
                    .max(16)
                    .describe("Subnet ids, `subnet-…`."),
                securityGroupIds: z
                    .array(z.string().regex(/^sg-[0-9a-f]+$/, { message: "expected a security group id, sg-…" }))
                    .min(1)
                    .max(5)
                    .describe("Security group ids, `sg-…`."),
            })
            .strict()
            .optional()
            .describe("The VPC the Models run in. Unset: none."),
        deployment: deploymentSchema.default({
            strategy: DEFAULTS.sagemaker.deployment.strategy,
            waitIntervalSeconds: DEFAULTS.sagemaker.deployment.waitIntervalSeconds,
            bakeTimeSeconds: DEFAULTS.sagemaker.deployment.bakeTimeSeconds,
            rollbackAlarmNames: [],
        }),
    })
    .strict()
    .describe("The SageMaker endpoint. Required when `mlops:target` is `sagemaker`.");

/** A Kubernetes resource quantity such as `500m`, `2`, `1.5Gi` or `1e3`. */
export const QUANTITY_PATTERN = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;

const quantity = z.string().regex(QUANTITY_PATTERN, { message: "not a Kubernetes quantity (e.g. 500m, 2, 1Gi, 512Mi)" });
const resourceAmounts = z
    .object({
        cpu: quantity.optional().describe("CPU, a Kubernetes quantity such as `500m` or `2`."),
        memory: quantity.optional().describe("Memory, a Kubernetes quantity such as `512Mi` or `2Gi`."),
    })
    .strict();
const port = z.number().int().min(1, { message: "a port is 1..65535" }).max(65535, { message: "a port is 1..65535" });
const probePath = z.string().startsWith("/", { message: "a probe path starts with '/'" });

const kubernetesSchema = z
    .object({
        namespace: z
            .string()
            .max(63)
            .regex(DNS_LABEL_PATTERN, { message: "a namespace is a DNS label: lowercase letters, digits and '-'" })
            .default(DEFAULTS.kubernetes.namespace)
            .describe("The namespace of every object, a DNS label: lowercase letters, digits and `-`."),
        createNamespace: z.boolean().default(DEFAULTS.kubernetes.createNamespace).describe("Declare the namespace too."),
        replicas: z
            .number()
            .int()
            .min(1, { message: "replicas must be at least 1" })
            .default(DEFAULTS.kubernetes.replicas)
            .describe("Pods of the serving version."),
        standbyReplicas: z
            .number()
            .int()
            .min(0, { message: "standbyReplicas must be 0 or more" })
            .optional()
            .describe("Pods of each warm version that does not serve. Unset: `replicas` (hot standby)."),
        rollbackAtReducedCapacity: z
            .boolean()
            .default(DEFAULTS.kubernetes.rollbackAtReducedCapacity)
            .describe(
                "When a rollback's target runs fewer ready pods than `replicas` (a partial standby, `standbyReplicas` between 1 and `replicas` - 1): `false` (safe) scales it up first and then moves traffic, as long as its pods take to load; `true` moves traffic at once to the pods that are ready and scales up behind the switch. No effect on a full standby (always switched at once) or `standbyReplicas: 0` (never).",
            ),
        port: port.default(DEFAULTS.kubernetes.port).describe("The container port the model server listens on."),
        servicePort: port.default(DEFAULTS.kubernetes.servicePort).describe("The Service's port."),
        serviceType: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).default(DEFAULTS.kubernetes.serviceType).describe("The Service's type."),
        readinessPath: probePath.default(DEFAULTS.kubernetes.readinessPath).describe("The HTTP path of the readiness probe; starts with `/`."),
        livenessPath: probePath.default(DEFAULTS.kubernetes.livenessPath).describe("The HTTP path of the liveness probe; starts with `/`."),
        startupTimeoutSeconds: z
            .number()
            .int()
            .min(10)
            .max(3600)
            .default(DEFAULTS.kubernetes.startupTimeoutSeconds)
            .describe("How long a pod may take to load the model before the liveness probe applies (the startup probe), in seconds."),
        rolloutTimeoutSeconds: z
            .number()
            .int()
            .min(30)
            .max(7200)
            .optional()
            .describe(
                "How long `pulumi up` waits for a Deployment to be ready before it fails, with traffic still on the version that served, in seconds. Unset: `startupTimeoutSeconds` + 300.",
            ),
        resources: z
            .object({
                requests: resourceAmounts.optional().describe("What each model container is guaranteed."),
                limits: resourceAmounts.optional().describe("The most each model container may use."),
            })
            .strict()
            .default(DEFAULTS.kubernetes.resources)
            .describe("The model containers' `requests` and `limits` of `cpu` and `memory`; a request above its limit is an error."),
        runAsUser: z
            .number()
            .int()
            .min(1, { message: "runAsUser must not be 0 (root)" })
            .optional()
            .describe("The numeric user the model server runs as, not 0 (root); the image must allow it. Unset: the image's USER, which must not be root."),
    })
    .strict()
    .describe(
        "The Deployments and Service that serve the model. Required when `mlops:target` is `kubernetes`; every field has a default, so an empty section (`mlops:kubernetes: {}`) takes them all.",
    );

/** Where `mlops rollback` reports: an SNS topic, or an HTTPS webhook. */
export const SNS_TOPIC_ARN_PATTERN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

/** The config key of the notify target, as `pulumi config get --path` names it. */
export const NOTIFY_CONFIG_KEY = `${CONFIG_NAMESPACE}:rollback.notify`;

/**
 * A Pulumi secret as the stack file holds it (`pulumi config set --secret
 * --path ...` writes `secure: <ciphertext>`): only the stack's secrets
 * provider can decrypt it. The engine hands the program the decrypted value;
 * the CLI reads the file, where it stays ciphertext.
 */
export interface SecretConfigValue {
    readonly secure: string;
}

/** `{ secure: "<ciphertext>" }` and nothing else. */
export function isSecretConfigValue(value: unknown): value is SecretConfigValue {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
    const keys = Object.keys(value);
    return keys.length === 1 && keys[0] === "secure" && typeof (value as { secure?: unknown }).secure === "string";
}

/** `mlops:rollback.notify` as a person writes it: the topic ARN or webhook URL, or a Pulumi secret holding it. */
export type NotifyTargetInput = string | SecretConfigValue;

const NOTIFY_TARGET_HINT = "an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>), an https:// webhook URL, or a Pulumi secret holding one";
const STORE_AS_SECRET = `pulumi config set --secret --path ${NOTIFY_CONFIG_KEY} <url>`;

/**
 * What is wrong with a notify target (a topic ARN or webhook URL), or
 * undefined when a notice can be sent to it. Never quotes the value: a
 * webhook URL carries its token, and may be a decrypted secret.
 */
export function notifyTargetProblem(value: string): string | undefined {
    if (SNS_TOPIC_ARN_PATTERN.test(value)) return undefined;
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return `expected ${NOTIFY_TARGET_HINT}`;
    }
    if (url.protocol !== "https:" || /\s/.test(value)) return `expected ${NOTIFY_TARGET_HINT}`;
    if (url.username !== "" || url.password !== "") {
        return `a webhook URL with user:password@ cannot be sent (fetch refuses credentials in a URL); put the credential where the service documents it (the URL's path or query, a token) and keep the URL a secret: ${STORE_AS_SECRET}`;
    }
    return undefined;
}

/** Checked by `notifyTargetProblem`; a secret is taken as it is (it cannot be read offline, and the engine decrypts it). */
const notifyTarget = z
    .custom<NotifyTargetInput>()
    .transform((value, ctx): NotifyTargetInput => {
        if (isSecretConfigValue(value)) return { secure: value.secure };
        const problem =
            typeof value === "string" ? notifyTargetProblem(value) : `expected ${NOTIFY_TARGET_HINT} (${STORE_AS_SECRET}), got ${describeValue(value)}`;
        if (problem === undefined) return value;
        ctx.addIssue({ code: "custom", message: problem });
        return z.NEVER;
    })
    // z.custom has no JSON Schema of its own: a string, as written or as a secret.
    .meta({ type: "string" });

const rollbackSchema = z
    .object({
        notify: notifyTarget
            .optional()
            .describe(
                `An SNS topic ARN or \`https://\` webhook URL that hears about every rollback. A webhook URL carries its token: keep it a Pulumi secret, \`${STORE_AS_SECRET}\`. Unset: no notice.`,
            ),
        allowRedeploy: z
            .array(versionId)
            .default([])
            .describe(
                "Versions released from the quarantine a rollback put them under: the explicit override that lets them be pinned again. Each is in `mlops:versions`.",
            ),
    })
    .strict()
    .describe("What `mlops rollback` does besides moving traffic.");

/**
 * CloudWatch alarm periods: 10, 20 or 30 seconds (high-resolution metrics
 * only) or a multiple of 60 (PutMetricAlarm, `Period`).
 */
export function isAlarmPeriod(seconds: number): boolean {
    return seconds === 10 || seconds === 20 || seconds === 30 || (seconds >= 60 && seconds % 60 === 0);
}

/** PutMetricAlarm: `EvaluationPeriods` × `Period` may not exceed one day. */
export const MAX_ALARM_EVALUATION_SECONDS = 86_400;

const threshold = z.number().finite().min(0, { message: "a threshold is a finite number, 0 or more" });
const percent = threshold.max(100, { message: "a percentage is 0..100" });
const ALARM_SUFFIX_PATTERN = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/;
const ALARM_COMPARISONS = ["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"] as const;
export type AlarmComparison = (typeof ALARM_COMPARISONS)[number];
/** PutMetricAlarm's `TreatMissingData` values. */
const MISSING_DATA_TREATMENTS = ["missing", "notBreaching", "breaching", "ignore"] as const;
export type MissingDataTreatment = (typeof MISSING_DATA_TREATMENTS)[number];

const customAlarmSchema = z
    .object({
        name: z
            .string()
            .regex(ALARM_SUFFIX_PATTERN, { message: "1-40 lowercase letters, digits and '-', e.g. queue-depth" })
            .describe(
                "Ends the alarm's name, `<model>-<stack>-<name>`: 1-40 lowercase letters, digits and `-`, e.g. `queue-depth`; unique, and not a built-in alarm's. Keep it stable: it is the alarm's identity.",
            ),
        namespace: z.string().min(1).max(255).describe("The metric's CloudWatch namespace, e.g. `ContainerInsights` or your own."),
        metricName: z.string().min(1).max(255).describe("The metric's name."),
        dimensions: z.record(z.string().min(1).max(255), z.string().min(1).max(1024)).default({}).describe("The metric's dimensions, name to value."),
        statistic: z
            .string()
            .regex(/^(Average|Sum|Minimum|Maximum|SampleCount|p(100|\d{1,2}(\.\d{1,2})?))$/, {
                message: "Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99",
            })
            .default("Average")
            .describe("`Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount`, or a percentile such as `p99`."),
        threshold: threshold.describe("The value the statistic is compared with."),
        comparison: z
            .enum(ALARM_COMPARISONS)
            .default("greaterThan")
            .describe(
                "A ceiling, `greaterThan` or `greaterThanOrEqual` (too many errors), or a floor, `lessThan` or `lessThanOrEqual` (too few pods, too few requests).",
            ),
        treatMissingData: z
            .enum(MISSING_DATA_TREATMENTS)
            .optional()
            .describe(
                "What a period without data counts as. Unset: it follows `comparison` (`missingDataTreatment`): a floor breaches (its metric stops when the last pod goes, so otherwise it could never fire), a ceiling does not (no errors reported is no failure). `mlops validate` warns when a floor is told not to breach, and when it breaches on a `periodSeconds` under 60.",
            ),
    })
    .strict();

/**
 * What a custom alarm does with a period that has no data: its own
 * `treatMissingData` when set, else by its comparison. A floor alarm's metric
 * stops exactly when the floor is hit hardest (no pods left to report a pod
 * count, no requests to count), so there missing data breaches; otherwise an
 * alarm on "too few" could never fire. A ceiling alarm's metric stops when
 * there is nothing to count (no errors, no traffic), which is not a failing model.
 *
 *     missingDataTreatment({ comparison: "lessThan" })                                    // "breaching"
 *     missingDataTreatment({ comparison: "lessThanOrEqual" })                             // "breaching"
 *     missingDataTreatment({ comparison: "lessThan", treatMissingData: "notBreaching" })  // "notBreaching": explicit wins
 *     missingDataTreatment({ comparison: "greaterThan" })                                 // "notBreaching"
 */
export function missingDataTreatment(alarm: { readonly comparison: AlarmComparison; readonly treatMissingData?: MissingDataTreatment }): MissingDataTreatment {
    return alarm.treatMissingData ?? (isFloorComparison(alarm.comparison) ? "breaching" : "notBreaching");
}

/** An alarm on "too few" (fires below its threshold). */
export function isFloorComparison(comparison: AlarmComparison): boolean {
    return comparison === "lessThan" || comparison === "lessThanOrEqual";
}

/** What each `treatMissingData` other than `breaching` does to a floor alarm once its metric stops. */
const FLOOR_WITHOUT_DATA: Record<Exclude<MissingDataTreatment, "breaching">, string> = {
    notBreaching: "counts the silence as fine and stays OK",
    ignore: "keeps the state it had, OK",
    missing: "goes to INSUFFICIENT_DATA, which the rollback's composite alarm does not count as ALARM",
};

/** Container Insights' default publishing interval, and the finest any AWS service metric we alarm on is published at. */
const MINUTE_METRIC_SECONDS = 60;

/**
 * Valid floor alarms that do not do what they seem to, each named by its
 * config key:
 * - told explicitly not to breach on missing data: when the metric stops
 *   with the thing it counts, the alarm never fires (valid all the same: a
 *   metric that keeps reporting zeros never goes missing);
 * - breaching on missing data with a period shorter than a minute: a metric
 *   published once a minute (Container Insights' default) leaves most
 *   periods empty, and the alarm fires on a healthy service.
 */
export function floorAlarmWarnings(alarms: Pick<AlarmSettings, "custom" | "periodSeconds"> | undefined): ConfigWarning[] {
    if (alarms === undefined) return [];
    return alarms.custom.flatMap((alarm, index) => {
        if (!isFloorComparison(alarm.comparison)) return [];
        const floor = `${alarm.name} fires on too little ${alarm.metricName} (${alarm.comparison} ${alarm.threshold})`;
        const treatment = missingDataTreatment(alarm);
        if (treatment !== "breaching") {
            return [
                {
                    path: `${CONFIG_NAMESPACE}:alarms.custom[${index}].treatMissingData`,
                    message: `${floor}, but with ${treatment} it ${FLOOR_WITHOUT_DATA[treatment]} when the metric stops (every pod gone, no requests), and no rollback starts; remove treatMissingData (a floor alarm breaches on missing data by default) unless the metric reports zeros`,
                },
            ];
        }
        if (alarms.periodSeconds >= MINUTE_METRIC_SECONDS) return [];
        return [
            {
                path: `${CONFIG_NAMESPACE}:alarms.periodSeconds`,
                message: `${floor} and counts a period without data as breaching, but a ${alarms.periodSeconds} s period is shorter than the minute most metrics are published at (Container Insights' default): most periods are empty and it fires on a healthy service; use periodSeconds ${MINUTE_METRIC_SECONDS} unless ${alarm.metricName} is published every ${alarms.periodSeconds} s`,
            },
        ];
    });
}

const alarmsSchema = z
    .object({
        periodSeconds: z
            .number()
            .int()
            .refine(isAlarmPeriod, { message: "an alarm period is 10, 20, 30 or a multiple of 60 seconds" })
            .default(DEFAULTS.alarms.periodSeconds)
            .describe("The alarms' period: 10, 20, 30 or a multiple of 60 seconds (SageMaker: 60 or more, its metrics are per minute)."),
        evaluationPeriods: z
            .number()
            .int()
            .min(1, { message: "evaluationPeriods is at least 1" })
            .default(DEFAULTS.alarms.evaluationPeriods)
            .describe('The N of "M of N": how many periods are evaluated; `periodSeconds` × `evaluationPeriods` is at most one day.'),
        datapointsToAlarm: z
            .number()
            .int()
            .min(1, { message: "datapointsToAlarm is at least 1" })
            .default(DEFAULTS.alarms.datapointsToAlarm)
            .describe('The M of "M of N": how many of those periods must breach; at most `evaluationPeriods`.'),
        // Defaulted by the alarms (DEFAULTS.alarms), not here: on kubernetes a value set is an error.
        errorRatePercent: percent
            .optional()
            .describe(`SageMaker only: alarm when 5XX errors exceed this percent of invocations. Unset: ${DEFAULTS.alarms.errorRatePercent} on SageMaker.`),
        latencyP99Ms: threshold
            .optional()
            .describe(
                `SageMaker only: alarm when the p99 \`ModelLatency\` exceeds this many milliseconds (the alarm converts to the metric's microseconds). Unset: ${DEFAULTS.alarms.latencyP99Ms} on SageMaker.`,
            ),
        clientErrorRatePercent: percent.optional().describe("SageMaker only: alarm when 4XX errors exceed this percent of invocations. Unset: no such alarm."),
        custom: z
            .array(customAlarmSchema)
            .max(8, { message: "at most 8 custom alarms" })
            .default([])
            .describe(
                "Alarms on any metric (Container Insights, or your own namespace): at most 8; on Kubernetes at least one, as its alarms come only from here.",
            ),
        feedGuardrails: z
            .boolean()
            .default(true)
            .describe("SageMaker: also name the metric alarms in the endpoint's deployment guardrails (`autoRollbackConfiguration`)."),
    })
    .strict()
    .describe(
        "CloudWatch alarms on the served model; they feed SageMaker's deployment guardrails and the rollback trigger. Keep the set of alarms stable: adding or removing one (a custom alarm, `clientErrorRatePercent`, `feedGuardrails`, the section itself) replaces a SageMaker endpoint; thresholds and periods change freely.",
    );

/** CloudWatch Logs retention values (PutRetentionPolicy). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
const SECRET_ARN_PATTERN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/;
const PULUMI_CLI_CHECKSUM_HINT =
    // No scheme: every URL in a problem message is cut to its host (withoutUrlSecrets), ours too.
    "the line for pulumi-v<version>-linux-x64.tar.gz in pulumi-<version>-checksums.txt, an asset of the release at github.com/pulumi/pulumi/releases/tag/v<version>";

const triggerSchema = z
    .object({
        cooldownSeconds: z
            .number()
            .int()
            .min(60, { message: "60..86400 seconds" })
            .max(86_400, { message: "60..86400 seconds" })
            .default(DEFAULTS.trigger.cooldownSeconds)
            .describe("No second automatic rollback for this long after one, in seconds."),
        maxEventAgeSeconds: z
            .number()
            .int()
            .min(60, { message: "60..21600 seconds" })
            .max(21_600, { message: "60..21600 seconds (Lambda keeps an event for at most 6 hours)" })
            .default(DEFAULTS.trigger.maxEventAgeSeconds)
            .describe(
                "Alarm events older than this are stale (EventBridge retries for up to 24 h), in seconds; at most 21600, as it is also the Lambda's maximum event age.",
            ),
        busyRechecks: z
            .number()
            .int()
            .min(0)
            .max(10, { message: "at most 10 re-checks" })
            .default(DEFAULTS.trigger.busyRechecks)
            .describe("While SageMaker is updating the endpoint, re-check this many times before giving up."),
        busyRecheckSeconds: z
            .number()
            .int()
            .min(1)
            .max(60, { message: "1..60 seconds" })
            .default(DEFAULTS.trigger.busyRecheckSeconds)
            .describe("Seconds between those re-checks."),
        runnerRoleArn: z
            .string()
            .regex(IAM_ROLE_ARN_PATTERN, { message: "expected an IAM role ARN, arn:aws:iam::<account>:role/<name>" })
            .describe(
                "The IAM role ARN the reconcile build runs `mlops rollback` as: what your `pulumi up` needs, plus writing to the trigger's log group and reading `pulumiSecret`.",
            ),
        source: z
            .object({
                type: z.enum(["GITHUB", "GITHUB_ENTERPRISE", "GITLAB", "BITBUCKET", "CODECOMMIT", "S3"]).describe("The kind of source, as CodeBuild names it."),
                location: z.string().min(1).describe("The repository (S3: the object) as CodeBuild locates it."),
                version: z.string().min(1).optional().describe("Branch, tag or commit (S3: object version)."),
            })
            .strict()
            .describe("Where the build checks out this stack's program (the repository you run `pulumi up` from)."),
        projectDirectory: z
            .string()
            .regex(/^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]+$/, {
                message: "a folder inside the repository, relative to its root (letters, digits, '.', '_', '-' and '/'; no '..'), e.g. infra/ml",
            })
            .default(".")
            .describe(
                "Your Pulumi project's folder in that repository (where its Pulumi.yaml, package.json and package-lock.json are), relative to its root, no `..`: the build runs `npm ci` and then `npx mlops rollback` there.",
            ),
        pulumiCli: z
            // A custom check, so that a missing section says where its values come from (not just "required").
            .custom<{ readonly version: string; readonly sha256: string }>((value) => value !== undefined, {
                message: `required: { version, sha256 } of the Pulumi CLI the reconcile build installs; sha256 is ${PULUMI_CLI_CHECKSUM_HINT}`,
            })
            .pipe(
                z
                    .object({
                        version: z
                            .string()
                            .regex(/^\d+\.\d+\.\d+$/, { message: "a Pulumi CLI release, e.g. 3.248.0 (no 'v')" })
                            .describe("The Pulumi CLI release, e.g. `3.248.0` (no `v`): your project's `@pulumi/pulumi` version or later."),
                        sha256: z
                            .string()
                            .regex(/^[0-9a-fA-F]{64}$/, { message: `64 hex digits: ${PULUMI_CLI_CHECKSUM_HINT}` })
                            .transform((digest) => digest.toLowerCase())
                            .describe(`The SHA-256 of \`pulumi-v<version>-linux-x64.tar.gz\`, 64 hex digits: ${PULUMI_CLI_CHECKSUM_HINT}.`),
                    })
                    .strict(),
            )
            .describe("The Pulumi CLI the reconcile build installs, pinned by release and checksum; the build refuses a download that does not match."),
        pulumiBackendUrl: z
            .string()
            .regex(/^(s3|azblob|gs|file|https?):\/\/\S+$/, { message: "a Pulumi backend URL: s3://, azblob://, gs://, file:// or https://" })
            .optional()
            .describe("The stack's backend when it is not Pulumi Cloud: an `s3://`, `azblob://`, `gs://`, `file://` or `https://` URL. Unset: Pulumi Cloud."),
        pulumiSecret: z
            .object({
                variable: z
                    .enum(["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"])
                    .describe("The variable the build gets it in: an access token (Pulumi Cloud) or the passphrase of a self-managed backend."),
                secretArn: z
                    .string()
                    .regex(SECRET_ARN_PATTERN, { message: "expected a Secrets Manager secret ARN" })
                    .describe("The Secrets Manager secret's ARN."),
            })
            .strict()
            .optional()
            .describe("The build's Pulumi credential, from Secrets Manager. Unset: none."),
        logRetentionDays: z
            .number()
            .int()
            .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), { message: `one of ${LOG_RETENTION_DAYS.join(", ")}` })
            .default(DEFAULTS.trigger.logRetentionDays)
            .describe(`How many days the handler's and the build's logs are kept: a CloudWatch Logs value, one of ${LOG_RETENTION_DAYS.join(", ")}.`),
        eks: z
            .object({
                clusterName: z
                    .string()
                    .regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, { message: "an EKS cluster name: letters, digits, '-' and '_'" })
                    .describe("The EKS cluster's name: 1-100 letters, digits, `-` or `_`, starting with a letter or digit."),
            })
            .strict()
            .optional()
            .describe(
                "Kubernetes on EKS: the cluster the model serves on, for the trigger's instant switch. The handler moves the Service's selector itself (one compare-and-set write, as `mlops rollback` does) before the reconcile build; its role gets an EKS access entry in a Kubernetes group that may only read and patch that one Service. The cluster's authentication mode must allow access entries (`API` or `API_AND_CONFIG_MAP`), and its API endpoint must be reachable from Lambda. Unset: no instant switch, the reconcile build moves traffic.",
            ),
    })
    .strict()
    .describe(
        "The alarm-triggered rollback: an EventBridge rule on the alarms, a Lambda handler that moves traffic back, and a CodeBuild run of `mlops rollback` that reconciles the stack. Needs `mlops:alarms`.",
    );

/**
 * RDS DB instance and cluster identifiers: 1-63 letters, digits or hyphens,
 * starting with a letter, no `--`, no trailing hyphen (CreateDBInstance).
 * RDS stores them lowercase, so only lowercase is accepted here.
 */
export const RDS_IDENTIFIER_PATTERN = /^[a-z](?!.*--)(?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const rdsIdentifier = z.string().regex(RDS_IDENTIFIER_PATTERN, {
    message: "an RDS identifier: 1-63 lowercase letters, digits or '-', starting with a letter, no '--', not ending with '-', e.g. fraud-features",
});
const SECURITY_GROUP_ID_PATTERN = /^sg-[0-9a-f]{8}([0-9a-f]{9})?$/;

/** A database this stack creates: the settings that are the user's call; the safety settings are not optional. */
const managedDatabaseSchema = z
    .object({
        engine: z
            .enum(["postgres", "mysql", "mariadb", "aurora-postgresql", "aurora-mysql"], {
                message: "one of postgres, mysql, mariadb (kind: instance) or aurora-postgresql, aurora-mysql (kind: cluster)",
            })
            .describe("The engine: `postgres`, `mysql` or `mariadb` for kind `instance`, `aurora-postgresql` or `aurora-mysql` for kind `cluster`."),
        engineVersion: z
            .string()
            .regex(/^\d+(\.\d+)*$/, { message: "an engine version such as 16.4" })
            .optional()
            .describe("The engine version, such as `16.4`. Unset: RDS's default."),
        instanceClass: z
            .string()
            .regex(/^db\.[a-z0-9-]+\.[a-z0-9]+$/, { message: "an RDS instance class such as db.t4g.medium" })
            .describe("The instance class, such as `db.t4g.medium`; for a cluster, its writer instance's."),
        allocatedStorageGiB: z
            .number()
            .int()
            .min(20, { message: "20..65536 GiB" })
            .max(65_536, { message: "20..65536 GiB" })
            .optional()
            .describe("Storage in GiB: required for kind `instance`; refused for a cluster, whose Aurora storage grows by itself."),
        username: z
            .string()
            .regex(/^[A-Za-z][A-Za-z0-9_]{0,15}$/, { message: "1-16 letters, digits or '_', starting with a letter" })
            .default(DEFAULTS.database.username)
            .describe("The master user: 1-16 letters, digits or `_`, starting with a letter."),
        databaseName: z
            .string()
            .regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/, { message: "1-63 letters, digits or '_', starting with a letter" })
            .optional()
            .describe("A database to create in it: 1-63 letters, digits or `_`, starting with a letter. Unset: none."),
        backupRetentionDays: z
            .number()
            .int()
            .min(7, { message: "7..35 days: a shorter retention leaves too little point-in-time recovery behind a bad model" })
            .max(35, { message: "7..35 days (the RDS maximum)" })
            .default(DEFAULTS.database.backupRetentionDays)
            .describe("Days of automated backups: below 7 a bad model found late has no point-in-time restore left."),
        subnetGroupName: z.string().min(1).max(255).optional().describe("The DB subnet group it is created in. Unset: RDS's default."),
        securityGroupIds: z
            .array(z.string().regex(SECURITY_GROUP_ID_PATTERN, { message: "a security group id, sg-..." }))
            .optional()
            .describe("Its VPC security group ids, `sg-…`. Unset: RDS's default."),
        kmsKeyArn: z
            .string()
            .regex(KMS_KEY_ARN_PATTERN, { message: "expected a KMS key ARN" })
            .optional()
            .describe("Storage is always encrypted; this picks the KMS key. Unset: the RDS AWS-managed key."),
        multiAz: z.boolean().default(DEFAULTS.database.multiAz).describe("Instance only: a Multi-AZ deployment, with a standby in another Availability Zone."),
    })
    .strict();

const databaseSchema = z
    .object({
        kind: z
            .enum(["instance", "cluster"], { message: "'instance' (an RDS DB instance) or 'cluster' (an Aurora DB cluster)" })
            .describe("`instance`: an RDS DB instance; `cluster`: an Aurora DB cluster."),
        identifier: rdsIdentifier.describe(
            "The database the model uses, snapshotted before each pin change: 1-63 lowercase letters, digits or `-`, starting with a letter, no `--`, not ending with `-` (a cluster created here: at most 56, its writer instance is `<identifier>-writer`). Managed elsewhere unless `manage` is set.",
        ),
        manage: managedDatabaseSchema
            .optional()
            .describe(
                "Create the database in this stack, with deletion protection, encryption and backups that cannot be turned off here. Unset: it is managed elsewhere.",
            ),
        addressEnv: z
            .string()
            .regex(/^[A-Z_][A-Z0-9_]{0,127}$/, { message: "an environment variable name: A-Z, 0-9 and '_', not starting with a digit" })
            .optional()
            .describe(
                "The environment variable the model's containers get the database's address in (`A-Z`, `0-9`, `_`). Unset: the serving side is not told.",
            ),
        restoredInto: rdsIdentifier
            .optional()
            .describe(
                "Written by `mlops rollback --restore-database`: the database restored from a snapshot, which the model now uses and later snapshots are taken of; `identifier` stays as it is.",
            ),
    })
    .strict()
    .describe(
        "The database the model uses: snapshotted before every change of the pin, restored only when asked (`mlops rollback --restore-database`), always into a new database.",
    );

const targetSchema = z
    .enum(["sagemaker", "kubernetes"], { message: "set mlops:target to 'sagemaker' or 'kubernetes'" })
    .describe(
        "Where the model is served: a SageMaker endpoint or Kubernetes Deployments; its section, `mlops:sagemaker` or `mlops:kubernetes`, is then required.",
    );
const modelNameSchema = z
    .string()
    .max(40, { message: "a model name is at most 40 characters (resource names are derived from it)" })
    // Starts with a letter: it names a Kubernetes Service (an RFC 1035 label).
    .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, {
        message: "a model name is DNS-safe: lowercase letters, digits and '-', starting with a letter, e.g. fraud-detector",
    })
    .describe(
        `The model's name, DNS-safe: lowercase letters, digits and \`-\`, starting with a letter, at most 40 characters, and at most ${MAX_MODEL_LENGTH_WITH_TRIGGER} with \`mlops:trigger\`. Resource names derive from it.`,
    );

/** The catalog: which versions exist, which one serves, how many before it stay warm, which never serve again. */
const catalogFields = {
    pinned: versionId.describe('The version that serves traffic (quote it: `"3"`): in `mlops:versions` and not quarantined. A rollback pins an earlier one.'),
    warm: z
        .number()
        .int()
        .min(0, { message: "warm is 0..5" })
        .max(5, { message: "warm is 0..5" })
        .default(DEFAULTS.warm)
        .describe(
            "How many versions to keep warm besides the pin: the latest to have served on the stack before it, earlier in the catalog and not quarantined, so that rolling back to one of them moves one pointer.",
        ),
    quarantined: z
        .array(versionId)
        .default([])
        .describe("Versions that must not be pinned or kept warm again, each in `mlops:versions`; `mlops rollback` adds the version it rolls back from."),
    versions: z
        .array(versionSchema)
        .min(1, { message: "the catalog needs at least one version" })
        .describe("The append-only catalog of model versions, oldest first; no two serve the same image and artifact."),
};

/**
 * Every `mlops:*` key with its type, default and description (keys without
 * the namespace), without the cross-field rules: `parseStackConfig` checks
 * those too. The one source of the config reference (config/reference.ts).
 */
export const stackConfigShape = z
    .object({
        target: targetSchema,
        model: modelNameSchema,
        ...catalogFields,
        sagemaker: sagemakerSchema.optional(),
        kubernetes: kubernetesSchema.optional(),
        rollback: rollbackSchema.default({ allowRedeploy: [] }),
        alarms: alarmsSchema.optional(),
        trigger: triggerSchema.optional(),
        database: databaseSchema.optional(),
    })
    .strict();

export type StackConfig = z.output<typeof stackConfigShape>;
export type ModelVersion = StackConfig["versions"][number];
export type SageMakerSettings = NonNullable<StackConfig["sagemaker"]>;
export type DeploymentSettings = SageMakerSettings["deployment"];
export type KubernetesSettings = NonNullable<StackConfig["kubernetes"]>;

/** How long `pulumi up` waits for a Deployment to be ready: `rolloutTimeoutSeconds`, or the startup budget plus 5 minutes. */
export function rolloutTimeoutSeconds(settings: Pick<KubernetesSettings, "rolloutTimeoutSeconds" | "startupTimeoutSeconds">): number {
    return settings.rolloutTimeoutSeconds ?? settings.startupTimeoutSeconds + 300;
}
export type Target = StackConfig["target"];
export type AlarmSettings = NonNullable<StackConfig["alarms"]>;
export type CustomAlarm = AlarmSettings["custom"][number];
export type TriggerSettings = NonNullable<StackConfig["trigger"]>;
export type DatabaseSettings = NonNullable<StackConfig["database"]>;
export type ManagedDatabaseSettings = NonNullable<DatabaseSettings["manage"]>;

// What a person writes: the schemas' input types, every field with a default
// optional. Component args take these, and each component parses them with
// these same schemas (parseSageMakerArgs and its siblings below).
export type ModelVersionInput = z.input<typeof versionSchema>;
export type SageMakerSettingsInput = z.input<typeof sagemakerSchema>;
export type DeploymentSettingsInput = z.input<typeof deploymentSchema>;
export type KubernetesSettingsInput = z.input<typeof kubernetesSchema>;
export type AlarmSettingsInput = z.input<typeof alarmsSchema>;
export type CustomAlarmInput = z.input<typeof customAlarmSchema>;
export type TriggerSettingsInput = z.input<typeof triggerSchema>;
export type DatabaseSettingsInput = z.input<typeof databaseSchema>;
export type ManagedDatabaseSettingsInput = z.input<typeof managedDatabaseSchema>;

/** One problem with the config, named by its path: `mlops:sagemaker.instanceCount` in stack config, `args.settings.instanceCount` in a component's args. */
export interface ConfigProblem {
    readonly path: string;
    readonly message: string;
}

export class StackConfigError extends BadInputError {
    /** The problems, with every URL a message quotes cut to its scheme and host (`withoutUrlSecrets`). */
    public readonly problems: readonly ConfigProblem[];

    constructor(problems: readonly ConfigProblem[]) {
        const shown = problems.map((problem) => ({ ...problem, message: withoutUrlSecrets(problem.message) }));
        super(
            `stack config is invalid (${shown.length} problem${shown.length === 1 ? "" : "s"}):\n` +
                shown.map((p) => `  ${p.path}: ${indentedLines(p.message)}`).join("\n"),
        );
        this.problems = shown;
    }
}

/** A problem message that spans lines (one that shows YAML to write), its later lines indented under the problem's first. */
export function indentedLines(message: string): string {
    return message.replace(/\n/g, "\n    ");
}

/** `["versions", 2, "image"]` → `mlops:versions[2].image`. */
export function configPath(path: readonly PropertyKey[]): string {
    return `${CONFIG_NAMESPACE}:${renderPath(path)}`;
}

/** `["versions", 2, "image"]` → `versions[2].image`. */
function renderPath(path: readonly PropertyKey[]): string {
    let rendered = "";
    for (const segment of path) {
        if (typeof segment === "number") rendered += `[${segment}]`;
        else rendered += rendered === "" ? String(segment) : `.${String(segment)}`;
    }
    return rendered;
}

const stackConfigSchema = checkedBy(stackConfigShape, crossFieldProblems);

/**
 * `schema`, with the cross-field `rules` as well. They run even when a field
 * failed, so that one parse reports every problem; the value may then be
 * partly invalid, so the rules read it defensively.
 */
function checkedBy<S extends z.ZodObject>(schema: S, rules: (value: z.output<S>) => PathedProblem[]): S {
    return schema.superRefine(
        (value, ctx) => {
            // Not an object at all: zod has said so; there is nothing to relate.
            if (typeof value !== "object" || value === null) return;
            for (const problem of rules(value)) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
        },
        { when: () => true },
    );
}

interface PathedProblem {
    readonly path: (string | number)[];
    readonly message: string;
}

/**
 * Names another field in a problem's message: `mlops:versions[2]` in stack
 * config, `args.versions[2]` in a component's args.
 */
type FieldName = (path: readonly (string | number)[]) => string;

/** The problems of a section, moved under its key: `["stepPercent"]` → `["sagemaker", "deployment", "stepPercent"]`. */
function under(prefix: readonly (string | number)[], problems: readonly PathedProblem[]): PathedProblem[] {
    return problems.map((problem) => ({ path: [...prefix, ...problem.path], message: problem.message }));
}

/** A FieldName for fields inside the section at `prefix`. */
function within(prefix: readonly (string | number)[], name: FieldName): FieldName {
    return (path) => name([...prefix, ...path]);
}

/**
 * Rules that span fields. The value may be partly invalid (see `when` above),
 * so every field is type-checked before use. Each section's rules are their
 * own function, which a component applies to its args as well.
 */
export function crossFieldProblems(value: unknown): PathedProblem[] {
    const problems: PathedProblem[] = [];
    if (typeof value !== "object" || value === null) return problems;
    const config = value as Record<string, unknown>;
    const target = asTarget(config.target);
    const model = typeof config.model === "string" ? config.model : undefined;

    problems.push(...catalogProblems(config, target, model === undefined ? undefined : { prefix: model, from: configPath(["model"]) }, configPath));
    const versions = Array.isArray(config.versions) ? (config.versions as unknown[]) : [];
    const catalog = new Set(versions.map((v) => asVersionId((v as Record<string, unknown> | null)?.version)).filter((id) => id !== undefined));
    const allowRedeploy = (config.rollback as { allowRedeploy?: unknown } | undefined)?.allowRedeploy;
    (Array.isArray(allowRedeploy) ? allowRedeploy.map(asVersionId) : []).forEach((id, index) => {
        if (id !== undefined && versions.length > 0 && !catalog.has(id)) {
            problems.push({
                path: ["rollback", "allowRedeploy", index],
                message: `version '${id}' is not in ${configPath(["versions"])} (known: ${[...catalog].join(", ")})`,
            });
        }
    });

    problems.push(...under(["sagemaker"], sagemakerSectionProblems(config.sagemaker)));
    if (target === "sagemaker") problems.push(...under(["sagemaker"], hotStandbyProblems(config.sagemaker, config.warm, configPath(["warm"]))));
    if (target === "kubernetes") problems.push(...under(["kubernetes"], kubernetesSectionProblems(config.kubernetes)));
    if (config.trigger !== undefined && config.alarms === undefined) {
        problems.push({ path: ["trigger"], message: "the rollback trigger fires on alarms: add the mlops:alarms section, or remove mlops:trigger" });
    }
    if (target === "sagemaker" && (config.trigger as { eks?: unknown } | undefined)?.eks !== undefined) {
        problems.push({
            path: ["trigger", "eks"],
            message: "the EKS instant switch is for mlops:target kubernetes; a SageMaker endpoint has its own fast path: remove it",
        });
    }
    // mlops:model names every resource; only the trigger's need it shorter than the schema's 40 (catalog/names.ts).
    const triggerNames = config.trigger !== undefined && model !== undefined ? triggerNameProblem(`${model}${TRIGGER_COMPONENT_SUFFIX}`) : undefined;
    if (triggerNames !== undefined) {
        problems.push({ path: ["model"], message: `at most ${MAX_MODEL_LENGTH_WITH_TRIGGER} characters with mlops:trigger: ${triggerNames}` });
    }
    const rollbackAlarmNames = (config.sagemaker as { deployment?: { rollbackAlarmNames?: unknown } } | undefined)?.deployment?.rollbackAlarmNames;
    const userGuardrails = Array.isArray(rollbackAlarmNames) ? rollbackAlarmNames.length : 0;
    problems.push(...under(["alarms"], alarmSectionProblems(target, config.alarms, userGuardrails, within(["alarms"], configPath))));
    problems.push(...under(["database"], databaseSectionProblems(config.database)));

    if (target !== undefined && config[target] === undefined) {
        problems.push({ path: [target], message: `required when mlops:target is '${target}': add the mlops:${target} section` });
    }
    return problems;
}

/** Where the names derived from version ids start (`fraud-detector`), and the field to shorten when one is too long. */
interface DerivedNames {
    readonly prefix: string;
    readonly from: string;
}

/**
 * Rules of the catalog (`versions`, `pinned`, `quarantined`): unique ids and
 * derived names, a new version changes what is served, the pin is a known,
 * unquarantined version, and what each target needs of a version.
 */
function catalogProblems(
    catalogValue: Record<string, unknown>,
    target: Target | undefined,
    derived: DerivedNames | undefined,
    name: FieldName,
): PathedProblem[] {
    const problems: PathedProblem[] = [];
    const versions = Array.isArray(catalogValue.versions) ? (catalogValue.versions as unknown[]) : [];
    const ids = versions.map((v) => asVersionId((v as Record<string, unknown> | null)?.version));
    const catalog = new Set(ids.filter((id): id is string => id !== undefined));

    const firstIndexOfId = new Map<string, number>();
    const firstIndexOfDerivedName = new Map<string, number>();
    const firstIndexOfContent = new Map<string, number>();
    versions.forEach((entry, index) => {
        const id = ids[index];
        const version = (entry ?? {}) as Record<string, unknown>;
        if (id !== undefined) {
            const seen = firstIndexOfId.get(id);
            if (seen !== undefined) {
                problems.push({
                    path: ["versions", index, "version"],
                    message: `duplicate version id '${id}' (already at ${name(["versions", seen])}); versions are append-only and ids are unique`,
                });
            } else {
                firstIndexOfId.set(id, index);
                if (target !== undefined && VERSION_ID_PATTERN.test(id)) {
                    const key = derivedNameKey(target, id);
                    const clash = firstIndexOfDerivedName.get(key);
                    if (clash !== undefined) {
                        problems.push({
                            path: ["versions", index, "version"],
                            message: `version '${id}' derives the same ${target} resource name '${key}' as '${ids[clash]}' at ${name(["versions", clash])}; rename one of them`,
                        });
                    } else {
                        firstIndexOfDerivedName.set(key, index);
                    }
                }
            }
        }
        if (typeof version.image === "string") {
            const content = `${version.image}|${typeof version.artifact === "string" ? version.artifact : ""}`;
            const same = firstIndexOfContent.get(content);
            if (same !== undefined) {
                problems.push({
                    path: ["versions", index],
                    message: `same image and artifact as ${name(["versions", same])}; a new version must change what is served`,
                });
            } else {
                firstIndexOfContent.set(content, index);
            }
        }
        if (target === "sagemaker") {
            if (version.artifact === undefined) {
                problems.push({ path: ["versions", index, "artifact"], message: "required for the sagemaker target: the model artifact, s3://<bucket>/<key>" });
            }
            if (typeof version.image === "string" && IMAGE_BY_DIGEST_PATTERN.test(version.image) && !ECR_IMAGE_PATTERN.test(version.image)) {
                problems.push({
                    path: ["versions", index, "image"],
                    message: "SageMaker pulls images from ECR: <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>, without a tag",
                });
            }
        }
        if (target === "kubernetes" && id !== undefined && VERSION_ID_PATTERN.test(id) && !/[A-Za-z0-9]$/.test(id)) {
            problems.push({ path: ["versions", index, "version"], message: "on kubernetes a version id ends with a letter or digit (it is a label value)" });
        }
    });

    if (target !== undefined && derived !== undefined) {
        versions.forEach((_, index) => {
            const id = ids[index];
            if (id === undefined || !VERSION_ID_PATTERN.test(id)) return;
            const longest = longestDerivedName(target, derived.prefix, id);
            if (longest.length > MAX_DERIVED_NAME_LENGTH[target]) {
                problems.push({
                    path: ["versions", index, "version"],
                    message: `the derived resource name '${longest}' is longer than ${MAX_DERIVED_NAME_LENGTH[target]} characters; shorten ${derived.from} or the version id`,
                });
            }
        });
    }

    const knownList = [...catalog].join(", ");
    const pinned = asVersionId(catalogValue.pinned);
    const quarantined = Array.isArray(catalogValue.quarantined) ? catalogValue.quarantined.map(asVersionId) : [];
    if (pinned !== undefined && versions.length > 0) {
        if (!catalog.has(pinned)) {
            problems.push({
                path: ["pinned"],
                message: `version '${pinned}' is not in ${name(["versions"])} (known: ${knownList}); add it to the catalog or pin a known version`,
            });
        } else if (quarantined.includes(pinned)) {
            problems.push({
                path: ["pinned"],
                message: `version '${pinned}' is quarantined (listed in ${name(["quarantined"])}); pin another version, or remove it from ${name(["quarantined"])} if it is safe again`,
            });
        }
    }
    quarantined.forEach((id, index) => {
        if (id !== undefined && versions.length > 0 && !catalog.has(id)) {
            problems.push({ path: ["quarantined", index], message: `version '${id}' is not in ${name(["versions"])} (known: ${knownList})` });
        }
    });
    return problems;
}

/**
 * Rules of `mlops:sagemaker`, by paths inside it: a KMS key the instance type can take, a deployment step that fits the strategy,
 * a policy the provider waits for and guardrails the instance type has (`deploymentPolicyProblems`).
 */
function sagemakerSectionProblems(value: unknown): PathedProblem[] {
    if (typeof value !== "object" || value === null) return [];
    const sagemaker = value as { instanceType?: unknown; instanceCount?: unknown; kmsKeyArn?: unknown; deployment?: unknown };
    const problems: PathedProblem[] = [];
    if (typeof sagemaker.instanceType === "string" && sagemaker.kmsKeyArn !== undefined && hasLocalNvmeStorage(sagemaker.instanceType)) {
        problems.push({
            path: ["kmsKeyArn"],
            message: `${sagemaker.instanceType} has local NVMe storage, which SageMaker encrypts itself and for which it rejects a KMS key; remove kmsKeyArn or pick another instance type`,
        });
    }
    if (typeof sagemaker.deployment === "object" && sagemaker.deployment !== null) {
        const deployment = sagemaker.deployment as Record<string, unknown>;
        const strategy = deployment.strategy ?? DEFAULTS.sagemaker.deployment.strategy;
        const step = deployment.stepPercent;
        if ((strategy === "canary" || strategy === "linear") && step === undefined) {
            problems.push({
                path: ["deployment", "stepPercent"],
                message: `required for the ${strategy} strategy: the percent of the fleet shifted per step`,
            });
        }
        if (strategy === "allAtOnce" && step !== undefined) {
            problems.push({ path: ["deployment", "stepPercent"], message: "only for the canary or linear strategy; remove it or set strategy" });
        }
        if (strategy === "linear" && typeof step === "number" && step < 10) {
            problems.push({ path: ["deployment", "stepPercent"], message: "a linear step is 10-50% of the fleet" });
        }
    }
    const policy = policySettings(sagemaker);
    if (policy !== undefined) problems.push(...deploymentPolicyProblems(policy));
    return problems;
}

/**
 * Hot standby needs something to keep hot (`mlops:warm` at least 1), two
 * different variant names, and says nothing about instance counts it does
 * not use: `standbyInstanceCount` and `standbyVariantName` under cold.
 */
function hotStandbyProblems(sagemaker: unknown, warm: unknown, warmKey: string): PathedProblem[] {
    if (typeof sagemaker !== "object" || sagemaker === null) return [];
    const { standby, standbyInstanceCount, standbyVariantName, variantName } = sagemaker as Record<string, unknown>;
    const problems: PathedProblem[] = [];
    if (standby !== "hot") {
        if (standbyInstanceCount !== undefined) {
            problems.push({
                path: ["standbyInstanceCount"],
                message: "only for standby: hot (a cold standby runs no instances); remove it or set standby: hot",
            });
        }
        return problems;
    }
    if (warm === 0) {
        problems.push({
            path: ["standby"],
            message: `hot keeps the rollback target running, and ${warmKey} is 0 (no rollback target is kept); set warm to 1 or more, or standby: cold`,
        });
    }
    const instanceCount = (sagemaker as Record<string, unknown>).instanceCount ?? DEFAULTS.sagemaker.instanceCount;
    if (typeof standbyInstanceCount === "number" && typeof instanceCount === "number" && standbyInstanceCount > instanceCount) {
        problems.push({
            path: ["standbyInstanceCount"],
            message: `${standbyInstanceCount} is more than instanceCount (${instanceCount}): a standby larger than the fleet it stands in for costs more and serves no more; lower it, or raise instanceCount`,
        });
    }
    if ((standbyVariantName ?? DEFAULTS.sagemaker.standbyVariantName) === (variantName ?? DEFAULTS.sagemaker.variantName)) {
        problems.push({
            path: ["standbyVariantName"],
            message: `must differ from variantName ('${typeof variantName === "string" ? variantName : DEFAULTS.sagemaker.variantName}'): the endpoint config holds both variants`,
        });
    }
    return problems;
}

/**
 * The section as `deploymentPolicyProblems` reads it, defaults applied; undefined
 * while a field it reads has the wrong type (zod names that field already).
 */
function policySettings(sagemaker: Record<string, unknown>): PolicySettings | undefined {
    const deployment = (sagemaker.deployment ?? {}) as Record<string, unknown>;
    const defaults = DEFAULTS.sagemaker.deployment;
    const strategy = deployment.strategy ?? defaults.strategy;
    const settings = {
        instanceType: sagemaker.instanceType,
        instanceCount: sagemaker.instanceCount ?? DEFAULTS.sagemaker.instanceCount,
        deployment: {
            strategy,
            stepPercent: deployment.stepPercent,
            waitIntervalSeconds: deployment.waitIntervalSeconds ?? defaults.waitIntervalSeconds,
            bakeTimeSeconds: deployment.bakeTimeSeconds ?? defaults.bakeTimeSeconds,
            rollbackAlarmNames: deployment.rollbackAlarmNames ?? [],
        },
    };
    const d = settings.deployment;
    const typed =
        typeof settings.instanceType === "string" &&
        isWholeNumber(settings.instanceCount) &&
        (strategy === "allAtOnce" || strategy === "canary" || strategy === "linear") &&
        (d.stepPercent === undefined || isWholeNumber(d.stepPercent)) &&
        isWholeNumber(d.waitIntervalSeconds) &&
        isWholeNumber(d.bakeTimeSeconds) &&
        Array.isArray(d.rollbackAlarmNames);
    return typed ? (settings as PolicySettings) : undefined;
}

function isWholeNumber(value: unknown): value is number {
    return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

/** Rules of `mlops:kubernetes`, by paths inside it: no resource request above its limit. */
function kubernetesSectionProblems(value: unknown): PathedProblem[] {
    const resources = (value as { resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> } } | undefined)?.resources;
    const problems: PathedProblem[] = [];
    for (const resource of ["cpu", "memory"] as const) {
        const request = quantityValue(resources?.requests?.[resource]);
        const limit = quantityValue(resources?.limits?.[resource]);
        if (request !== undefined && limit !== undefined && request > limit) {
            problems.push({
                path: ["resources", "requests", resource],
                message: `the ${resource} request is above its limit; raise the limit or lower the request`,
            });
        }
    }
    return problems;
}

/**
 * Rules of `mlops:alarms`, by paths inside it. `userGuardrails`: the alarms
 * the endpoint's guardrails watch besides these (`rollbackAlarmNames`).
 */
function alarmSectionProblems(target: Target | undefined, alarmsValue: unknown, userGuardrails: number, name: FieldName): PathedProblem[] {
    const problems: PathedProblem[] = [];
    if (typeof alarmsValue !== "object" || alarmsValue === null) return problems;
    const alarms = alarmsValue as Record<string, unknown>;
    const period = typeof alarms.periodSeconds === "number" ? alarms.periodSeconds : DEFAULTS.alarms.periodSeconds;
    const evaluationPeriods = typeof alarms.evaluationPeriods === "number" ? alarms.evaluationPeriods : DEFAULTS.alarms.evaluationPeriods;
    const datapoints = typeof alarms.datapointsToAlarm === "number" ? alarms.datapointsToAlarm : DEFAULTS.alarms.datapointsToAlarm;
    if (datapoints > evaluationPeriods) {
        problems.push({
            path: ["datapointsToAlarm"],
            message: `${datapoints} breaching datapoints cannot fit in ${evaluationPeriods} evaluation periods; lower datapointsToAlarm or raise evaluationPeriods`,
        });
    }
    if (period * evaluationPeriods > MAX_ALARM_EVALUATION_SECONDS) {
        problems.push({
            path: ["evaluationPeriods"],
            message: `periodSeconds × evaluationPeriods is ${period * evaluationPeriods} s; CloudWatch evaluates at most one day (86400 s)`,
        });
    }
    const custom = Array.isArray(alarms.custom) ? (alarms.custom as unknown[]) : [];
    const seen = new Map<string, number>();
    custom.forEach((entry, index) => {
        const alarmName = (entry as { name?: unknown } | null)?.name;
        if (typeof alarmName !== "string") return;
        if ((BUILT_IN_ALARM_SUFFIXES as readonly string[]).includes(alarmName)) {
            problems.push({ path: ["custom", index, "name"], message: `'${alarmName}' is the name of a built-in alarm; pick another` });
        }
        const first = seen.get(alarmName);
        if (first !== undefined) problems.push({ path: ["custom", index, "name"], message: `already used by ${name(["custom", first])}` });
        else seen.set(alarmName, index);
    });
    if (target === "kubernetes") {
        for (const key of ["errorRatePercent", "latencyP99Ms", "clientErrorRatePercent"] as const) {
            if (alarms[key] !== undefined) {
                problems.push({ path: [key], message: `a SageMaker endpoint metric; on kubernetes, alarm on your metrics with ${name(["custom"])}` });
            }
        }
        if (custom.length === 0) {
            problems.push({
                path: ["custom"],
                message: "on kubernetes the alarms come from your metrics (Container Insights or your own namespace): add at least one",
            });
        }
    }
    if (target === "sagemaker") {
        if (period < 60) {
            problems.push({
                path: ["periodSeconds"],
                message: "SageMaker publishes endpoint metrics once a minute: a shorter period never has data; use 60 or a multiple of it",
            });
        }
        const ours = alarms.feedGuardrails === false ? 0 : guardrailAlarmCount(alarms, custom.length);
        if (userGuardrails + ours > 10) {
            problems.push({
                path: ["feedGuardrails"],
                message: `the endpoint's guardrails would watch ${userGuardrails + ours} alarms; SageMaker accepts at most 10: drop custom alarms, rollbackAlarmNames, or set feedGuardrails: false`,
            });
        }
    }
    return problems;
}

/** The environment mlops gives every model container; `mlops:database.addressEnv` must not shadow it. */
const RESERVED_ENV = ["MLOPS_MODEL", "MLOPS_MODEL_VERSION", "MLOPS_MODEL_ARTIFACT"] as const;

/** Rules of `mlops:database`, by paths inside it. */
function databaseSectionProblems(value: unknown): PathedProblem[] {
    if (typeof value !== "object" || value === null) return [];
    const database = value as Record<string, unknown>;
    const problems: PathedProblem[] = [];
    if (database.restoredInto !== undefined && database.restoredInto === database.identifier) {
        problems.push({ path: ["restoredInto"], message: "names the original database itself; a restore always goes into a new one" });
    }
    if (typeof database.addressEnv === "string" && (RESERVED_ENV as readonly string[]).includes(database.addressEnv)) {
        problems.push({ path: ["addressEnv"], message: `${database.addressEnv} is set by mlops itself; pick another name, e.g. FEATURE_DB_HOST` });
    }
    const manage = database.manage as Record<string, unknown> | undefined;
    if (typeof manage !== "object" || manage === null) return problems;
    if (database.kind === "cluster" && typeof database.identifier === "string" && database.identifier.length > 63 - "-writer".length) {
        problems.push({
            path: ["identifier"],
            message: "at most 56 characters for a cluster created here: its writer instance is named <identifier>-writer",
        });
    }
    const aurora = typeof manage.engine === "string" && manage.engine.startsWith("aurora-");
    if (database.kind === "cluster" && typeof manage.engine === "string" && !aurora) {
        problems.push({
            path: ["manage", "engine"],
            message: "a cluster runs aurora-postgresql or aurora-mysql; for this engine use kind: instance",
        });
    }
    if (database.kind === "instance" && aurora) {
        problems.push({ path: ["manage", "engine"], message: "an Aurora engine runs as a cluster; use kind: cluster" });
    }
    if (database.kind === "instance" && manage.allocatedStorageGiB === undefined) {
        problems.push({ path: ["manage", "allocatedStorageGiB"], message: "required for an instance: its storage in GiB (20..65536)" });
    }
    if (database.kind === "cluster" && manage.allocatedStorageGiB !== undefined) {
        problems.push({ path: ["manage", "allocatedStorageGiB"], message: "Aurora storage grows by itself; remove it" });
    }
    return problems;
}

/** Suffixes of the alarms this package defines on a SageMaker endpoint. */
export const BUILT_IN_ALARM_SUFFIXES = ["5xx-rate", "latency-p99", "4xx-rate", "rollback"] as const;

function guardrailAlarmCount(alarms: Record<string, unknown>, customCount: number): number {
    return 2 + (alarms.clientErrorRatePercent === undefined ? 0 : 1) + customCount;
}

/** Does this SageMaker instance type (`ml.g5.xlarge`) have local NVMe storage? */
export function hasLocalNvmeStorage(instanceType: string): boolean {
    return LOCAL_NVME_FAMILIES.has(instanceType.split(".")[1] ?? "");
}

/**
 * SageMaker hosting instance families with local NVMe instance storage: for
 * these CreateEndpointConfig rejects a KmsKeyId (its reference points to the
 * EC2 instance store list). `test/config.test.ts` classifies every family of
 * the SDK's ProductionVariantInstanceType, so a new family needs a decision
 * here. When in doubt a family goes here: a wrong entry only leaves the
 * volumes on AWS's own encryption, a missing one fails the deploy.
 */
export const LOCAL_NVME_FAMILIES: ReadonlySet<string> = new Set([
    "c5d",
    "c6gd",
    "c6id",
    "m5d",
    "m6gd",
    "m6id",
    "r5d",
    "r6gd",
    "r6id",
    "r7gd",
    "dl1",
    "g4dn",
    "g5",
    "g6",
    "g6e",
    "g7",
    "g7e",
    "p3dn",
    "p4d",
    "p4de",
    "p5",
    "p5e",
    "p5en",
    "p6-b200",
    "p6-b300",
    "p6e-gb200",
    "trn1",
    "trn1n",
    "trn2",
]);

const QUANTITY_SUFFIXES: Record<string, number> = {
    n: 1e-9,
    u: 1e-6,
    m: 1e-3,
    "": 1,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
};

/** The numeric value of a Kubernetes quantity, or undefined when it is not one. */
export function quantityValue(value: unknown): number | undefined {
    if (typeof value !== "string" || !QUANTITY_PATTERN.test(value)) return undefined;
    const match = /^([\d.]+)([eE][+-]?\d+|[A-Za-z]*)$/.exec(value);
    if (match === null) return undefined;
    const [, number, suffix] = match;
    if (/^[eE]/.test(suffix)) return Number(number) * 10 ** Number(suffix.slice(1));
    const multiplier = QUANTITY_SUFFIXES[suffix];
    return multiplier === undefined ? undefined : Number(number) * multiplier;
}

/** Longest string a problem message quotes; a longer one is named by its length only (it may be a token or a key). */
const MAX_QUOTED_LENGTH = 40;

/** A value as a problem message names it: a string quoted, URLs cut to scheme and host, and named by length when long. */
function describeValue(value: unknown): string {
    if (Array.isArray(value)) return "a list";
    if (value === null) return "null";
    if (typeof value === "object") return "a map";
    if (typeof value === "string" && value.length > MAX_QUOTED_LENGTH) {
        return `a string of ${value.length} characters${withoutUrlSecrets(value) === value ? "" : " (a URL, not shown)"}`;
    }
    return `${typeof value} ${withoutUrlSecrets(JSON.stringify(value))}`;
}

/** `scheme://…` up to whitespace, a quote or an angle bracket, as rollback/notifyTarget.ts's `withoutUrls` finds URLs. */
/** Hosts of the documentation that problem messages cite (AWS's guides); `withoutUrlSecrets` leaves those links whole. */
const CITED_DOCUMENTATION_HOSTS: ReadonlySet<string> = new Set(["docs.aws.amazon.com"]);

export const URL_IN_TEXT = /[a-z][a-z0-9+.-]{0,31}:\/\/\S+/gi;

/**
 * `text` with every URL in it cut to its scheme and host (`https://user:pw@host:8443/path?q`
 * → `https://host:8443/…`), or to `scheme://…` when it has no host one can parse:
 * a webhook URL carries its token in the path or query, so no config problem
 * message shows either (nor user info). A plain https link to documentation
 * the messages cite (docs.aws.amazon.com, no user info, query or fragment)
 * stays whole. A URL runs to the next white space, so a quote inside one
 * cannot let its tail print. Linear in the text: the scheme is at most 32
 * characters (RFC 3986 sets no limit; real ones are short). `withoutUrls` in
 * rollback/notifyTarget.ts (error messages of a failed notice) is this, with
 * its secret case.
 */
export function withoutUrlSecrets(text: string): string {
    return text.replace(URL_IN_TEXT, (match) => {
        // The URL runs to the next space (a quote inside it must not let its tail print); quotes and brackets that close around it stay.
        let end = match.length;
        while (end > 0 && `"'\`)]>},.;:`.includes(match[end - 1])) end--;
        const [url, closing] = [match.slice(0, end), match.slice(end)];
        const scheme = /^[^:]+:\/\//.exec(url)![0];
        try {
            const { host, username, password, search, hash, protocol } = new URL(url);
            // The documentation our own messages cite keeps its path: it holds no secret, and the reader needs the page.
            if (protocol === "https:" && CITED_DOCUMENTATION_HOSTS.has(host) && username === "" && password === "" && search === "" && hash === "")
                return match;
            return `${host === "" ? `${scheme}…` : `${scheme}${host}/…`}${closing}`;
        } catch {
            return `${scheme}…${closing}`;
        }
    });
}

function asVersionId(value: unknown): string | undefined {
    if (typeof value === "string") return value;
    if (typeof value === "number" && Number.isInteger(value) && value >= 0) return String(value);
    return undefined;
}

/**
 * The one entry point: raw config (keys without the `mlops:` namespace) in,
 * a typed config with defaults applied out, or a `StackConfigError` naming
 * every problem.
 */
export function parseStackConfig(raw: unknown): StackConfig {
    // reportInput: to tell a missing key ("required") from a value of the wrong type.
    const result = stackConfigSchema.safeParse(raw, { reportInput: true });
    if (result.success) return result.data;
    throw new StackConfigError(stackConfigProblems(result.error.issues, raw));
}

/**
 * The args of a component, parsed. A component's config args (its catalog,
 * its `settings` section) are parsed with the schemas of the stack config
 * and checked by the same cross-field rules, so that a component refuses
 * exactly what `parseStackConfig` refuses, and a value parsed once parses to
 * itself again. Every problem is named by its path in the args.
 */
export type ArgsParse<T> = { readonly success: true; readonly data: T } | { readonly success: false; readonly problems: readonly ConfigProblem[] };

/** `["settings", "deployment", "stepPercent"]` → `args.settings.deployment.stepPercent`. */
export function argsPath(path: readonly PropertyKey[]): string {
    const rendered = renderPath(path);
    return rendered === "" || rendered.startsWith("[") ? `args${rendered}` : `args.${rendered}`;
}

/** `SageMakerModelEndpoint fraud: args.settings.instanceCount: ...`; with several problems, one line each under that heading. */
export function componentArgsMessage(component: string, name: string, problems: readonly ConfigProblem[]): string {
    if (problems.length === 1) return `${component} ${name}: ${problems[0].path}: ${problems[0].message}`;
    return `${component} ${name}: ${problems.length} problems with its args:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`;
}

/** The args of a SageMakerModelEndpoint that come from config: the model, the catalog and `settings` (`mlops:sagemaker`). */
export type SageMakerArgs = z.output<ReturnType<typeof sagemakerArgsSchema>>;
export type KubernetesArgs = z.output<typeof kubernetesArgsSchema>;
export type AlarmArgs = z.output<typeof alarmArgsSchema>;
export type TriggerArgs = z.output<typeof triggerArgsSchema>;
export type DatabaseArgs = z.output<typeof databaseArgsSchema>;

/** A component's record of the versions that served (`CatalogView.servingHistory`); not stack config, so only in component args. */
const servingHistoryField = { servingHistory: z.array(versionId).default([]) };

/** `name`: the component's, which its child names (and their length) derive from. */
function sagemakerArgsSchema(name: string) {
    return checkedBy(z.object({ model: modelNameSchema, ...catalogFields, ...servingHistoryField, settings: sagemakerSchema }), (args) => [
        ...catalogProblems(args, "sagemaker", { prefix: name, from: `the component name '${name}'` }, argsPath),
        ...under(["settings"], sagemakerSectionProblems(args.settings)),
        ...under(["settings"], hotStandbyProblems(args.settings, args.warm, argsPath(["warm"]))),
    ]);
}

const kubernetesArgsSchema = checkedBy(
    z.object({ model: modelNameSchema, ...catalogFields, ...servingHistoryField, settings: kubernetesSchema.prefault({}) }),
    (args) => [
        ...catalogProblems(args, "kubernetes", typeof args.model === "string" ? { prefix: args.model, from: argsPath(["model"]) } : undefined, argsPath),
        ...under(["settings"], kubernetesSectionProblems(args.settings)),
    ],
);

const alarmArgsSchema = checkedBy(
    z.object({
        target: targetSchema,
        settings: alarmsSchema.prefault({}),
        variantName: sagemakerSchema.shape.variantName,
        standbyVariantName: variantNameSchema.optional(),
    }),
    (args) => under(["settings"], alarmSectionProblems(asTarget(args.target), args.settings, 0, within(["settings"], argsPath))),
);

const triggerArgsSchema = z.object({ model: modelNameSchema, target: targetSchema, settings: triggerSchema });

const databaseArgsSchema = checkedBy(z.object({ model: modelNameSchema, settings: databaseSchema }), (args) =>
    under(["settings"], databaseSectionProblems(args.settings)),
);

/** A SageMakerModelEndpoint's `model`, catalog and `settings`, parsed as `mlops:model`, the catalog and `mlops:sagemaker` are. */
export function parseSageMakerArgs(args: unknown, name: string): ArgsParse<SageMakerArgs> {
    return parseArgs(sagemakerArgsSchema(name), args);
}

/** A KubernetesModelEndpoint's `model`, catalog and `settings` (`mlops:kubernetes`, every field defaulted), parsed. */
export function parseKubernetesArgs(args: unknown): ArgsParse<KubernetesArgs> {
    return parseArgs(kubernetesArgsSchema, args);
}

/** EndpointAlarms' `target`, `settings` (`mlops:alarms`) and `variantName`, parsed; the sagemaker alarms need the endpoint's name. */
export function parseAlarmArgs(args: unknown): ArgsParse<AlarmArgs> {
    const given = (args as { target?: unknown; endpointName?: unknown } | null | undefined) ?? {};
    const missingEndpoint: PathedProblem[] =
        given.target === "sagemaker" && given.endpointName === undefined
            ? [{ path: ["endpointName"], message: "required for the sagemaker target: the endpoint the alarms watch" }]
            : [];
    return parseArgs(alarmArgsSchema, args, missingEndpoint);
}

/** An AlarmRollbackTrigger's `model`, `target` and `settings` (`mlops:trigger`), parsed. */
export function parseTriggerArgs(args: unknown): ArgsParse<TriggerArgs> {
    return parseArgs(triggerArgsSchema, args);
}

/** DatabaseSnapshots' `model` and `settings` (`mlops:database`), parsed. */
export function parseDatabaseArgs(args: unknown): ArgsParse<DatabaseArgs> {
    return parseArgs(databaseArgsSchema, args);
}

/**
 * Parse the config args with `schema` (a plain object schema: the other
 * args, such as resources and Outputs, are neither read nor copied).
 * `extra`: problems of the other args, found by the caller.
 */
function parseArgs<S extends z.ZodObject>(schema: S, args: unknown, extra: readonly PathedProblem[] = []): ArgsParse<z.output<S>> {
    const result = schema.safeParse(args, { reportInput: true });
    const problems = [
        ...(result.success ? [] : problemsFromIssues(result.error.issues, schema, argsPath)),
        ...extra.map((problem) => ({ path: argsPath(problem.path), message: problem.message })),
    ];
    if (result.success && problems.length === 0) return { success: true, data: result.data };
    return { success: false, problems: byPath(problems) };
}

function asTarget(value: unknown): Target | undefined {
    return value === "sagemaker" || value === "kubernetes" ? value : undefined;
}

/**
 * Each issue as a problem named by `name(path)`. `unknownKey` may explain an
 * unknown key better than the list of allowed ones (the stack config's
 * dotted keys, see `dottedKeyMessage`).
 */
function problemsFromIssues(
    issues: readonly z.core.$ZodIssue[],
    root: z.ZodType,
    name: (path: readonly PropertyKey[]) => string,
    unknownKey: (path: readonly PropertyKey[], key: string) => string | undefined = () => undefined,
): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    for (const issue of issues) {
        if (issue.code === "unrecognized_keys") {
            for (const key of issue.keys) {
                problems.push({
                    path: name([...issue.path, key]),
                    message: unknownKey(issue.path, key) ?? `unknown key; ${unknownKeyHint(root, issue.path, key)}`,
                });
            }
            continue;
        }
        if (issue.code === "invalid_type") {
            const message = issue.input === undefined ? "required" : `expected ${issue.expected}, got ${describeValue(issue.input)}`;
            problems.push({ path: name(issue.path), message });
            continue;
        }
        problems.push({ path: name(issue.path), message: issue.message });
    }
    return byPath(problems.map((problem) => ({ ...problem, message: withoutUrlSecrets(problem.message) })));
}

/** zod reports in schema order; sorted by path, related problems sit together. */
function byPath(problems: ConfigProblem[]): ConfigProblem[] {
    return problems.sort((a, b) => a.path.localeCompare(b.path, "en", { numeric: true }));
}

/** The stack config's problems, each dotted key (`mlops:sagemaker.instanceType`) explained once, with what it shadows folded in. */
function stackConfigProblems(issues: readonly z.core.$ZodIssue[], raw: unknown): ConfigProblem[] {
    const dotted = dottedKeysOf(raw);
    const problems = problemsFromIssues(issues, stackConfigShape, configPath, (path, key) => (path.length === 0 ? dotted.get(key)?.message : undefined));
    // A dotted key is why the nested key it meant is missing (and, with no section, why the section is): one problem says so, not three.
    const shadowed = new Set<string>();
    for (const { segments } of dotted.values()) {
        shadowed.add(configPath(segments));
        if ((raw as Record<string, unknown>)[segments[0]] === undefined) shadowed.add(configPath([segments[0]]));
    }
    const explained = new Set([...dotted.values()].map(({ message }) => withoutUrlSecrets(message)));
    return problems.filter((problem) => explained.has(problem.message) || !shadowed.has(problem.path));
}

/** Each top-level key of `raw` with a '.' in it that names (or nearly names) a nested key, with what it meant and the fix. */
function dottedKeysOf(raw: unknown): Map<string, { readonly segments: string[]; readonly message: string }> {
    const dotted = new Map<string, { segments: string[]; message: string }>();
    if (typeof raw !== "object" || raw === null) return dotted;
    const config = raw as Record<string, unknown>;
    for (const key of Object.keys(config)) {
        const meant = meantPath(key);
        if (meant === undefined) continue;
        if ("unknown" in meant) {
            // Nothing it could mean below the section: no nested key to fold in, only why it is unknown.
            dotted.set(key, { segments: [key], message: dottedUnknownMessage(meant.within, meant.unknown) });
            continue;
        }
        const section = config[meant.segments[0]];
        dotted.set(key, { segments: meant.segments, message: dottedKeyMessage(key, meant, config[key], typeof section === "object" && section !== null) });
    }
    return dotted;
}

/**
 * The nested path a dotted top-level key means: `sagemaker.instanceType` →
 * `["sagemaker", "instanceType"]`, each segment that is not a key of its
 * section replaced by the one it is one or two edits from (`sagemakr` →
 * `sagemaker`). Where a later segment names nothing (`sagemaker.zzz`,
 * `pinned.x`), the known part and the segment. Undefined when it has no
 * '.', a segment is not a plain name, or the first is near no key (then the
 * unknown key is reported as any other).
 */
function meantPath(key: string): { segments: string[]; corrected: boolean } | { within: string[]; unknown: string } | undefined {
    const written = key.split(".");
    if (written.length < 2 || !written.every((segment) => /^[A-Za-z0-9_-]+$/.test(segment))) return undefined;
    const segments: string[] = [];
    let schema: z.ZodType | undefined = stackConfigShape;
    for (const segment of written) {
        const shape = objectShape(schema);
        const name = shape === undefined ? undefined : segment in shape ? segment : closestName(segment, Object.keys(shape));
        if (name === undefined) return segments.length === 0 ? undefined : { within: segments, unknown: segment };
        segments.push(name);
        schema = shape?.[name];
    }
    return { segments, corrected: segments.join(".") !== key };
}

/** A dotted key whose section is known but whose rest names nothing in it: `mlops:sagemaker.zzz`, `mlops:pinned.x`. */
function dottedUnknownMessage(within: readonly string[], unknown: string): string {
    const shape = objectShape(schemaAt(stackConfigShape, within));
    const inside =
        shape === undefined
            ? `${configPath(within)} is one value, with no keys in it`
            : `${configPath(within)} has no key ${unknown} (allowed: ${Object.keys(shape).join(", ")})`;
    return `unknown key: a key with a '.' in its name is one key, which mlops does not read, and ${inside}`;
}

/**
 * `mlops:sagemaker.instanceType: ml.m5.large` in a stack file is one key
 * with a '.' in its name (what `pulumi config set` writes without `--path`),
 * which nothing reads: say so, and show it nested, in YAML and as the
 * `pulumi config set --path` command. The message spans lines: the YAML to
 * write, indented.
 */
function dottedKeyMessage(key: string, meant: { segments: string[]; corrected: boolean }, value: unknown, sectionPresent: boolean): string {
    const { segments, corrected } = meant;
    const [section, ...rest] = segments;
    const field = rest.join(".");
    const oneKey = `a key with a '.' in its name is one key, which mlops does not read; for ${field} in ${configPath([section])}, `;
    const where = corrected ? `unknown key; did you mean ${configPath(segments)}? A${oneKey.slice(1)}` : oneKey;
    const nest = sectionPresent ? `move it into the ${configPath([section])} map you have:` : "nest it:";
    const yaml = [
        `${configPath([section])}:`,
        ...rest.map((name, depth) => `${"  ".repeat(depth + 1)}${name}:${depth === rest.length - 1 ? yamlValue(value) : ""}`),
    ];
    const target = configPath(segments);
    const setCommand = Array.isArray(value)
        ? `pulumi config set --path '${target}[0]…' <value> for each item`
        : isSecretConfigValue(value)
          ? `pulumi config set --secret --path '${target}' <value>`
          : isPlainMap(value)
            ? `pulumi config set --path '${target}.<key>' <value> for each key`
            : `pulumi config set --path '${target}' ${shellValue(value)} (add --secret for a secret)`;
    return [`${where}${nest}`, ...yaml.map((line) => `  ${line}`), `or run ${setCommand}, and delete ${configPath([key])}`].join("\n");
}

/** ` ml.m5.large` after a key in YAML: short text and numbers as written, anything else a placeholder (a value may be a secret URL). */
function yamlValue(value: unknown): string {
    if (typeof value === "number" || typeof value === "boolean") return ` ${String(value)}`;
    if (typeof value === "string" && /^[A-Za-z][A-Za-z0-9._/-]{0,39}$/.test(value) && !/^(?:true|false|null|yes|no|on|off|y|n)$/i.test(value))
        return ` ${value}`;
    if (typeof value === "string" && /^[\x20-\x7e]{1,40}$/.test(value) && !value.includes("://")) return ` ${JSON.stringify(value)}`;
    if (Array.isArray(value)) return " # the list you wrote, one level deeper";
    if (isPlainMap(value) && !isSecretConfigValue(value)) return " # the keys you wrote, one level deeper";
    return " <value>";
}

/** The value as a shell word for `pulumi config set`, or `<value>` when it is not a short plain text or number. */
function shellValue(value: unknown): string {
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    if (typeof value === "string" && /^[A-Za-z0-9._/:@+-]{1,40}$/.test(value) && !value.includes("://")) return value;
    return "<value>";
}

function isPlainMap(value: unknown): boolean {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Keys of the stack config that are written outside the `mlops:` namespace:
 * `acme:pinned` (what `pulumi config set pinned 3` writes in a project named
 * acme) or a bare `pinned:`. One problem per such key, named by the key as
 * written, when its name (before any '.') is a key of the stack config and
 * `mlops:<name>` is not set (else it is taken for a key of the user's own).
 * `project`: the project's name, when known, to say it is its namespace.
 */
export function misplacedKeyProblems(fullKeys: readonly string[], project?: string): ConfigProblem[] {
    const names = new Set(Object.keys(stackConfigShape.shape));
    const present = new Set(
        fullKeys.filter((key) => key.startsWith(`${CONFIG_NAMESPACE}:`)).map((key) => key.slice(CONFIG_NAMESPACE.length + 1).split(".")[0]),
    );
    const problems: ConfigProblem[] = [];
    for (const key of fullKeys) {
        const colon = key.indexOf(":");
        const namespace = colon === -1 ? undefined : key.slice(0, colon);
        const name = key.slice(colon + 1);
        const top = name.split(".")[0];
        // A name with other characters is no key mlops has (and must not add a line to the message).
        if (namespace === CONFIG_NAMESPACE || !names.has(top) || present.has(top) || !/^[A-Za-z0-9_.-]+$/.test(name)) continue;
        const place =
            namespace === undefined
                ? "a key with no namespace"
                : namespace === project
                  ? `a key in your project's namespace (${namespace})`
                  : `a key in the namespace '${namespace}'`;
        problems.push({
            path: key,
            message: `${place}; mlops reads ${configPath([name])} (its config keys are ${CONFIG_NAMESPACE}:* whatever the project is called; pulumi config set ${name} <value>, without the ${CONFIG_NAMESPACE}: prefix, writes <project>:${name}): rename it to ${configPath([name])}`,
        });
    }
    return problems;
}

/**
 * The stack config key a misplaced-key problem (`misplacedKeyProblems`)
 * stands for: `acme:pinned` → `mlops:pinned`, whose own problem ("required")
 * it replaces; undefined for any other problem.
 */
export function keyMisplacedBy(problem: ConfigProblem): string | undefined {
    if (problem.path.startsWith(`${CONFIG_NAMESPACE}:`)) return undefined;
    return configPath([problem.path.slice(problem.path.indexOf(":") + 1).split(".")[0]]);
}

/** What a stack config value at `path` is, for the advice on a number spelled ambiguously: a version id (text), a number, or other text. */
export type ConfigValueKind = "version id" | "number" | "text";

/** Where the stack config holds version ids (indexes as 0). */
const VERSION_ID_PATHS: ReadonlySet<string> = new Set(["pinned", "quarantined[0]", "versions[0].version", "rollback.allowRedeploy[0]"]);

/** The kind of value the stack config takes at `path` (`["alarms", "periodSeconds"]` → "number"), or undefined when the path is not one of its keys. */
export function configValueKind(path: readonly (string | number)[]): ConfigValueKind | undefined {
    if (VERSION_ID_PATHS.has(renderPath(path.map((segment) => (typeof segment === "number" ? 0 : segment))))) return "version id";
    const schema = schemaAt(stackConfigShape, path);
    if (schema === undefined) return undefined;
    let inner: z.ZodType = unwrap(schema);
    while (inner instanceof z.ZodPipe) inner = unwrap(inner.in as z.ZodType);
    if (inner instanceof z.ZodNumber) return "number";
    if (inner instanceof z.ZodString || inner instanceof z.ZodEnum) return "text";
    return undefined;
}

/** The schema at `path` below `root` (list items by index), or undefined when the path leaves it. */
function schemaAt(root: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
    let schema: z.ZodType | undefined = root;
    for (const segment of path) {
        const unwrapped: z.ZodType = unwrap(schema);
        if (unwrapped instanceof z.ZodArray) schema = typeof segment === "number" ? (unwrapped.element as z.ZodType) : undefined;
        else schema = objectShape(unwrapped)?.[String(segment)];
        if (schema === undefined) return undefined;
    }
    return schema;
}

/** The keys of an object schema (through optional, default and pipe), or undefined when `schema` is not one. */
function objectShape(schema: z.ZodType | undefined): Record<string, z.ZodType> | undefined {
    if (schema === undefined) return undefined;
    let inner = unwrap(schema);
    while (inner instanceof z.ZodPipe) inner = unwrap(inner.out as z.ZodType);
    return inner instanceof z.ZodObject ? inner.shape : undefined;
}

/** What is allowed where an unknown key is, and `; did you mean pinned?` when one allowed key is near it. */
function unknownKeyHint(root: z.ZodType, path: readonly PropertyKey[], key: string): string {
    const shape = objectShape(schemaAt(root, path));
    if (shape === undefined) return "check the spelling";
    const closest = closestName(key, Object.keys(shape));
    return `allowed: ${Object.keys(shape).join(", ")}${closest === undefined ? "" : `; did you mean ${closest}?`}`;
}

/** The one name within two edits of `written` (case aside), if exactly one is nearest; `sagemakr` → `sagemaker`. */
function closestName(written: string, names: readonly string[]): string | undefined {
    const scored = names.map((name) => ({ name, distance: levenshtein(written.toLowerCase(), name.toLowerCase()) })).filter(({ distance }) => distance <= 2);
    const best = Math.min(...scored.map(({ distance }) => distance));
    const nearest = scored.filter(({ distance }) => distance === best);
    return nearest.length === 1 ? nearest[0].name : undefined;
}

function unwrap(schema: z.ZodType): z.ZodType {
    let current = schema;
    while (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault) current = current.unwrap() as z.ZodType;
    return current;
}
