/**
 * What the alarm-triggered rollback handler knows about its stack: written
 * into the Lambda's environment by `AlarmRollbackTrigger` on every
 * `pulumi up` (so it follows the pin), read and checked once at cold start.
 */
import { z } from "zod";
import { endpointVariantsFromOutput, type EndpointVariantsRecord } from "../catalog/endpointVariants";

const count = z.coerce.number().int().min(0);
const seconds = z.coerce.number().int().min(1);

const settingsSchema = z
    .object({
        MLOPS_TARGET: z.enum(["sagemaker", "kubernetes"]),
        MLOPS_MODEL: z.string().min(1),
        MLOPS_STACK: z.string().min(1),
        /** The composite alarm this handler acts on; every other alarm is ignored. */
        MLOPS_ALARM_NAME: z.string().min(1),
        MLOPS_PINNED_VERSION: z.string().min(1),
        /** Empty when no warm version precedes the pin: then every alarm fails closed. */
        MLOPS_ROLLBACK_VERSION: z.string().default(""),
        MLOPS_ENDPOINT_NAME: z.string().default(""),
        MLOPS_PINNED_CONFIG_NAME: z.string().default(""),
        MLOPS_ROLLBACK_CONFIG_NAME: z.string().default(""),
        MLOPS_ROLLBACK_IMAGE: z.string().default(""),
        /** SageMaker hot standby: the endpoint config's variants (`EndpointVariantsRecord`, JSON); empty under cold standby. */
        MLOPS_ENDPOINT_VARIANTS: z.string().default(""),
        /** `mlops:sagemaker.instanceCount`: what the variant a rollback moves to serves with. */
        MLOPS_INSTANCE_COUNT: count.default(1),
        /** JSON list: the endpoint's guardrail alarms, kept in the fast path's deployment config. */
        MLOPS_GUARDRAIL_ALARMS: z.string().default("[]"),
        /** Kubernetes on EKS: the cluster, its API endpoint and CA (base64 PEM), for the instant switch; empty: no instant switch. */
        MLOPS_EKS_CLUSTER_NAME: z.string().default(""),
        MLOPS_EKS_ENDPOINT: z.string().default(""),
        MLOPS_EKS_CA_DATA: z.string().default(""),
        /** The Service, its namespace, the rollback target's Deployment, and what a switch needs of it (mlops:kubernetes). */
        MLOPS_K8S_NAMESPACE: z.string().default(""),
        MLOPS_K8S_SERVICE: z.string().default(""),
        MLOPS_K8S_ROLLBACK_DEPLOYMENT: z.string().default(""),
        MLOPS_K8S_REPLICAS: count.default(1),
        MLOPS_K8S_STARTUP_TIMEOUT_SECONDS: seconds.default(600),
        MLOPS_K8S_AT_REDUCED_CAPACITY: z.enum(["true", "false"]).default("false"),
        MLOPS_STATE_TABLE: z.string().min(1),
        MLOPS_RUNNER_PROJECT: z.string().min(1),
        MLOPS_TOPIC_ARN: z.string().min(1),
        MLOPS_COOLDOWN_SECONDS: seconds,
        MLOPS_MAX_EVENT_AGE_SECONDS: seconds,
        MLOPS_BUSY_RECHECKS: count,
        MLOPS_BUSY_RECHECK_SECONDS: seconds,
        /** Set by Lambda itself: the function reads its own LastModified. */
        AWS_LAMBDA_FUNCTION_NAME: z.string().default(""),
    })
    .superRefine((env, ctx) => {
        if (env.MLOPS_TARGET === "kubernetes" && env.MLOPS_EKS_CLUSTER_NAME !== "" && env.MLOPS_ROLLBACK_VERSION !== "") {
            for (const key of [
                "MLOPS_EKS_ENDPOINT",
                "MLOPS_EKS_CA_DATA",
                "MLOPS_K8S_NAMESPACE",
                "MLOPS_K8S_SERVICE",
                "MLOPS_K8S_ROLLBACK_DEPLOYMENT",
            ] as const) {
                if (env[key] === "") ctx.addIssue({ code: "custom", path: [key], message: "required for the EKS instant switch" });
            }
        }
        if (env.MLOPS_TARGET !== "sagemaker" || env.MLOPS_ROLLBACK_VERSION === "") return;
        for (const key of ["MLOPS_ENDPOINT_NAME", "MLOPS_PINNED_CONFIG_NAME", "MLOPS_ROLLBACK_CONFIG_NAME", "MLOPS_ROLLBACK_IMAGE"] as const) {
            if (env[key] === "") ctx.addIssue({ code: "custom", path: [key], message: "required for the sagemaker fast path" });
        }
        if (env.MLOPS_ENDPOINT_VARIANTS !== "" && endpointVariantsFromJson(env.MLOPS_ENDPOINT_VARIANTS) === undefined) {
            ctx.addIssue({ code: "custom", path: ["MLOPS_ENDPOINT_VARIANTS"], message: "the endpoint config's variants as JSON" });
        }
        if (!isStringList(env.MLOPS_GUARDRAIL_ALARMS))
            ctx.addIssue({ code: "custom", path: ["MLOPS_GUARDRAIL_ALARMS"], message: "a JSON list of alarm names" });
    })
    .transform((env) => ({
        target: env.MLOPS_TARGET,
        model: env.MLOPS_MODEL,
        stack: env.MLOPS_STACK,
        alarmName: env.MLOPS_ALARM_NAME,
        pinnedVersion: env.MLOPS_PINNED_VERSION,
        rollbackVersion: env.MLOPS_ROLLBACK_VERSION === "" ? undefined : env.MLOPS_ROLLBACK_VERSION,
        endpointName: env.MLOPS_ENDPOINT_NAME,
        pinnedConfigName: env.MLOPS_PINNED_CONFIG_NAME,
        rollbackConfigName: env.MLOPS_ROLLBACK_CONFIG_NAME,
        rollbackImage: env.MLOPS_ROLLBACK_IMAGE,
        guardrailAlarmNames: isStringList(env.MLOPS_GUARDRAIL_ALARMS) ? (JSON.parse(env.MLOPS_GUARDRAIL_ALARMS) as string[]) : [],
        /** Hot standby: the config's variants and the serving instance count, for the weights fast path; undefined under cold standby. */
        hotStandby: ((record) => (record === undefined ? undefined : { record, instanceCount: env.MLOPS_INSTANCE_COUNT }))(
            endpointVariantsFromJson(env.MLOPS_ENDPOINT_VARIANTS),
        ),
        eks:
            env.MLOPS_EKS_CLUSTER_NAME === ""
                ? undefined
                : { clusterName: env.MLOPS_EKS_CLUSTER_NAME, endpoint: env.MLOPS_EKS_ENDPOINT, caData: env.MLOPS_EKS_CA_DATA },
        kubernetes: {
            namespace: env.MLOPS_K8S_NAMESPACE,
            serviceName: env.MLOPS_K8S_SERVICE,
            rollbackDeployment: env.MLOPS_K8S_ROLLBACK_DEPLOYMENT,
            replicas: env.MLOPS_K8S_REPLICAS,
            startupTimeoutSeconds: env.MLOPS_K8S_STARTUP_TIMEOUT_SECONDS,
            atReducedCapacity: env.MLOPS_K8S_AT_REDUCED_CAPACITY === "true",
        },
        stateTable: env.MLOPS_STATE_TABLE,
        runnerProject: env.MLOPS_RUNNER_PROJECT,
        topicArn: env.MLOPS_TOPIC_ARN,
        cooldownSeconds: env.MLOPS_COOLDOWN_SECONDS,
        maxEventAgeSeconds: env.MLOPS_MAX_EVENT_AGE_SECONDS,
        busyRechecks: env.MLOPS_BUSY_RECHECKS,
        busyRecheckSeconds: env.MLOPS_BUSY_RECHECK_SECONDS,
        functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    }));

function endpointVariantsFromJson(json: string): EndpointVariantsRecord | undefined {
    try {
        return endpointVariantsFromOutput(JSON.parse(json));
    } catch {
        return undefined;
    }
}

function isStringList(json: string): boolean {
    try {
        const value: unknown = JSON.parse(json);
        return Array.isArray(value) && value.every((item) => typeof item === "string");
    } catch {
        return false;
    }
}

export type TriggerSettings = z.output<typeof settingsSchema>;
export type TriggerEnvironment = z.input<typeof settingsSchema>;

export function triggerSettingsFromEnv(env: Record<string, string | undefined>): TriggerSettings {
    const result = settingsSchema.safeParse(env);
    if (result.success) return result.data;
    const problems = result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`the rollback trigger's environment is invalid (redeploy the stack to rewrite it): ${problems}`);
}

/** The environment `AlarmRollbackTrigger` writes: the inverse of `triggerSettingsFromEnv`, less what Lambda sets. */
export function triggerEnvironment(
    settings: Omit<TriggerSettings, "functionName">,
): Record<Exclude<keyof TriggerEnvironment, "AWS_LAMBDA_FUNCTION_NAME">, string> {
    return {
        MLOPS_TARGET: settings.target,
        MLOPS_MODEL: settings.model,
        MLOPS_STACK: settings.stack,
        MLOPS_ALARM_NAME: settings.alarmName,
        MLOPS_PINNED_VERSION: settings.pinnedVersion,
        MLOPS_ROLLBACK_VERSION: settings.rollbackVersion ?? "",
        MLOPS_ENDPOINT_NAME: settings.endpointName,
        MLOPS_PINNED_CONFIG_NAME: settings.pinnedConfigName,
        MLOPS_ROLLBACK_CONFIG_NAME: settings.rollbackConfigName,
        MLOPS_ROLLBACK_IMAGE: settings.rollbackImage,
        MLOPS_ENDPOINT_VARIANTS: settings.hotStandby === undefined ? "" : JSON.stringify(settings.hotStandby.record),
        MLOPS_INSTANCE_COUNT: String(settings.hotStandby?.instanceCount ?? 1),
        MLOPS_GUARDRAIL_ALARMS: JSON.stringify(settings.guardrailAlarmNames),
        MLOPS_EKS_CLUSTER_NAME: settings.eks?.clusterName ?? "",
        MLOPS_EKS_ENDPOINT: settings.eks?.endpoint ?? "",
        MLOPS_EKS_CA_DATA: settings.eks?.caData ?? "",
        MLOPS_K8S_NAMESPACE: settings.kubernetes.namespace,
        MLOPS_K8S_SERVICE: settings.kubernetes.serviceName,
        MLOPS_K8S_ROLLBACK_DEPLOYMENT: settings.kubernetes.rollbackDeployment,
        MLOPS_K8S_REPLICAS: String(settings.kubernetes.replicas),
        MLOPS_K8S_STARTUP_TIMEOUT_SECONDS: String(settings.kubernetes.startupTimeoutSeconds),
        MLOPS_K8S_AT_REDUCED_CAPACITY: String(settings.kubernetes.atReducedCapacity),
        MLOPS_STATE_TABLE: settings.stateTable,
        MLOPS_RUNNER_PROJECT: settings.runnerProject,
        MLOPS_TOPIC_ARN: settings.topicArn,
        MLOPS_COOLDOWN_SECONDS: String(settings.cooldownSeconds),
        MLOPS_MAX_EVENT_AGE_SECONDS: String(settings.maxEventAgeSeconds),
        MLOPS_BUSY_RECHECKS: String(settings.busyRechecks),
        MLOPS_BUSY_RECHECK_SECONDS: String(settings.busyRecheckSeconds),
    };
}
