/**
 * What a SageMaker deployment policy (`mlops:sagemaker.deployment`) really
 * does: how long a deployment runs, whether the AWS provider waits that long,
 * and where SageMaker's deployment guardrails are off whatever the policy
 * says. Pure functions: `config/schema.ts` refuses with them, `mlops
 * validate` and `mlops plan --against` warn with them, and the time-to-restore
 * budget (`plan/restoreBudget.ts`) counts with them, so all three agree.
 *
 * Worked example (the table test in test/deploymentPolicy.test.ts repeats
 * it): a linear policy of 10% steps on 10 instances, 900 s waits and a 3600 s
 * bake. Ten steps of one instance each, each followed by a 900 s wait, make
 * 9000 s; with the bake 12600 s; with a new fleet (up to 900 s as users
 * report it) up to 13500 s, 3 h 45 min. The provider stops waiting after
 * 3600 s, so the policy is refused. A rollback by hand has all traffic on
 * the old version after nine of those waits (8100 s, plus the new fleet):
 * that is what the restore budget counts.
 */
import type { DeploymentSettings, SageMakerSettings, StackConfig } from "./schema";

export interface SecondsRange {
    readonly low: number;
    readonly high: number;
}

/**
 * How long SageMaker takes to start a new fleet for an endpoint config. AWS
 * publishes no figure; users report CreateEndpoint, which starts a fleet the
 * same way, at about 8.5 min (sagemaker-python-sdk#1006) and around 15 min
 * (terraform-provider-aws#2493). The restore budget cites it as
 * `sagemakerNewFleet`.
 */
export const REPORTED_NEW_FLEET_SECONDS: SecondsRange = { low: 510, high: 900 };

/**
 * How long the AWS provider waits for an endpoint update: a fixed 60 minutes
 * (terraform-provider-aws, which pulumi-aws bridges:
 * internal/service/sagemaker/endpoint.go, `waitEndpointInService`,
 * `timeout = 60 * time.Minute`, while the endpoint is Creating, Updating or
 * SystemUpdating). The resource declares no timeouts, so no `customTimeouts`
 * lengthens it. After it, `pulumi up` fails while SageMaker goes on shifting.
 */
export const PROVIDER_ENDPOINT_WAIT_SECONDS = 3600;

/** Where the exclusions below are documented. */
export const GUARDRAIL_EXCLUSIONS_URL = "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html";

/** The parts of a deployment policy that decide its length. */
export type DeploymentTiming = Pick<DeploymentSettings, "strategy" | "stepPercent" | "waitIntervalSeconds" | "bakeTimeSeconds">;

/** A count that SageMaker's rounding leaves open: between `fewest` and `most`. */
export interface CountRange {
    readonly fewest: number;
    readonly most: number;
}

/**
 * How many steps a blue/green shift takes (TrafficRoutingConfig): all at
 * once one; a canary two (the canary, then the rest), though on one
 * instance the canary may already be the whole fleet; a linear shift one per
 * step of `stepPercent` of the instances. Whole instances move and SageMaker
 * does not document how it rounds a percentage of them, so the count is a
 * range. A canary or linear policy without a step counts as all at once (the
 * schema refuses it).
 */
export function shiftSteps(deployment: Pick<DeploymentTiming, "strategy" | "stepPercent">, instanceCount: number): CountRange {
    const { strategy, stepPercent } = deployment;
    if (strategy === "allAtOnce" || stepPercent === undefined) return { fewest: 1, most: 1 };
    if (strategy === "canary") return instanceCount >= 2 ? { fewest: 2, most: 2 } : { fewest: 1, most: 2 };
    const instancesPerStep = (instanceCount * stepPercent) / 100;
    return {
        fewest: Math.ceil(instanceCount / Math.max(1, Math.ceil(instancesPerStep))),
        most: Math.ceil(instanceCount / Math.max(1, Math.floor(instancesPerStep))),
    };
}

/** The waits before all traffic is on the new fleet: one after every step but the last. */
export function waitsBeforeFullShift(deployment: Pick<DeploymentTiming, "strategy" | "stepPercent">, instanceCount: number): CountRange {
    const steps = shiftSteps(deployment, instanceCount);
    return { fewest: steps.fewest - 1, most: steps.most - 1 };
}

export interface DeploymentDuration {
    readonly steps: CountRange;
    /** `waitIntervalSeconds` after every step, the last one included. */
    readonly waits: SecondsRange;
    /** `bakeTimeSeconds`: SageMaker's final wait before it ends the old fleet. */
    readonly bake: number;
    readonly newFleet: SecondsRange;
    /** From UpdateEndpoint to the endpoint InService again, when nothing rolls back. */
    readonly total: SecondsRange;
}

/**
 * How long an endpoint stays Updating under this policy: the new fleet
 * starts, then each step's traffic shift is followed by a baking period of
 * `waitIntervalSeconds` (AWS: all at once "once the green fleet starts
 * receiving traffic, the baking period begins"; linear "for each step, there
 * is a baking period"; canary a baking period after the canary and a final
 * one after the rest), then `bakeTimeSeconds` (TerminationWaitInSeconds)
 * before the old fleet ends. BlueGreenUpdatePolicy's
 * MaximumExecutionTimeoutInSeconds "should be larger than the total waiting
 * time specified in TerminationWaitInSeconds and WaitIntervalInSeconds": the
 * deployment lasts through both.
 */
export function deploymentDuration(deployment: DeploymentTiming, instanceCount: number): DeploymentDuration {
    const steps = shiftSteps(deployment, instanceCount);
    const wait = deployment.waitIntervalSeconds;
    const waits = { low: steps.fewest * wait, high: steps.most * wait };
    const bake = deployment.bakeTimeSeconds;
    const newFleet = REPORTED_NEW_FLEET_SECONDS;
    return { steps, waits, bake, newFleet, total: { low: newFleet.low + waits.low + bake, high: newFleet.high + waits.high + bake } };
}

/** A problem of `mlops:sagemaker`, by its path inside the section. */
export interface PolicyProblem {
    readonly path: (string | number)[];
    readonly message: string;
}

/** The settings the refusals read: `mlops:sagemaker` (or a component's `settings`) with defaults applied. */
export type PolicySettings = Pick<SageMakerSettings, "instanceType" | "instanceCount"> & {
    readonly deployment: DeploymentTiming & Pick<DeploymentSettings, "rollbackAlarmNames">;
};

/**
 * The deployment policies refused: one the provider stops waiting for, and
 * guardrails asked for on an instance type that AWS excludes from them.
 */
export function deploymentPolicyProblems(settings: PolicySettings): PolicyProblem[] {
    return [...providerWaitProblems(settings), ...excludedInstanceTypeProblems(settings)];
}

function providerWaitProblems(settings: PolicySettings): PolicyProblem[] {
    const { deployment, instanceCount } = settings;
    const duration = deploymentDuration(deployment, instanceCount);
    if (duration.total.high < PROVIDER_ENDPOINT_WAIT_SECONDS) return [];
    const { steps, waits } = duration;
    const stepCount = steps.fewest === steps.most ? `${steps.most}` : `${steps.fewest}-${steps.most}`;
    const shape =
        deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined
            ? "1 step (all at once)"
            : `${stepCount} steps (${deployment.strategy}, ${deployment.stepPercent}% of ${instanceCount} instances)`;
    return [
        {
            path: ["deployment"],
            message:
                `this policy keeps the endpoint updating for up to ${duration.total.high} s (${minutes(duration.total.high)}): ` +
                `a new fleet, up to ${duration.newFleet.high} s as users report it, + ${shape} × waitIntervalSeconds ${deployment.waitIntervalSeconds} s = ${waits.high} s, ` +
                `+ bakeTimeSeconds ${duration.bake} s. The Pulumi AWS provider waits a fixed ${PROVIDER_ENDPOINT_WAIT_SECONDS} s (60 min) for an endpoint update ` +
                "(terraform-provider-aws internal/service/sagemaker/endpoint.go, waitEndpointInService) and then fails the update while SageMaker is still deploying, " +
                `so mlops deploy and rollback would exit 1: shorten waitIntervalSeconds or bakeTimeSeconds, or take larger steps, to stay under ${PROVIDER_ENDPOINT_WAIT_SECONDS} s`,
        },
    ];
}

/** `3 h 45 min`, `59 min 59 s`: whole seconds only. */
function minutes(seconds: number): string {
    const hours = Math.floor(seconds / 3600);
    const rest = seconds % 3600;
    const parts = [hours > 0 ? `${hours} h` : "", rest >= 60 ? `${Math.floor(rest / 60)} min` : "", rest % 60 > 0 ? `${rest % 60} s` : ""];
    return parts.filter((part) => part !== "").join(" ") || "0 s";
}

/**
 * Why SageMaker's guardrails are off on every deployment of these settings,
 * or undefined. Of AWS's exclusions (GUARDRAIL_EXCLUSIONS_URL) a stack config
 * can express one: Inf1 instances. Marketplace containers, Elastic Inference
 * (listed on older versions of the page), serverless and multi-variant
 * endpoints (rolling deployments only) cannot be written in it: every
 * version is one ECR image and S3 artifact on one instance-backed variant,
 * deployed blue/green.
 */
export function guardrailsExcludedBy(settings: Pick<SageMakerSettings, "instanceType">): string | undefined {
    if (!isInf1(settings.instanceType)) return undefined;
    return `${settings.instanceType} is an Inf1 (Inferentia) instance type, which SageMaker's deployment guardrails exclude: every update shifts all traffic at once with no baking period, and no alarm rolls it back (AWS, deployment guardrails exclusions, ${GUARDRAIL_EXCLUSIONS_URL})`;
}

/**
 * Why the update from `before` to `after` runs without guardrails, or
 * undefined: AWS's exclusions page requires the new endpoint config to have
 * the same variant name as the old one.
 */
export function guardrailsExcludedByChange(
    before: Pick<SageMakerSettings, "variantName" | "standby" | "standbyVariantName"> | undefined,
    after: Pick<SageMakerSettings, "variantName" | "standby" | "standbyVariantName"> | undefined,
): string | undefined {
    if (before === undefined || after === undefined) return undefined;
    const was = variantNamesOf(before);
    const will = variantNamesOf(after);
    if (was.join(", ") === will.join(", ")) return undefined;
    const what =
        before.variantName !== after.variantName
            ? `the variant name changes from '${before.variantName}' to '${after.variantName}'`
            : `the endpoint config's variants change from ${was.map((name) => `'${name}'`).join(", ")} to ${will.map((name) => `'${name}'`).join(", ")}${before.standby === after.standby ? "" : ` (mlops:sagemaker.standby ${before.standby} -> ${after.standby})`}`;
    return `${what}, and SageMaker's deployment guardrails need the new endpoint config to keep the old one's: this update shifts all traffic at once with no baking period, whatever mlops:sagemaker.deployment says, and no alarm rolls it back (AWS, deployment guardrails exclusions, ${GUARDRAIL_EXCLUSIONS_URL})`;
}

/** The production variant names of the endpoint configs a section declares: the serving one, and under hot standby the standby's. */
function variantNamesOf(settings: Pick<SageMakerSettings, "variantName" | "standby" | "standbyVariantName">): string[] {
    return settings.standby === "hot" ? [settings.variantName, settings.standbyVariantName] : [settings.variantName];
}

/** `ml.inf1.xlarge`: the Inf1 family, and no other (Inf2 is not excluded). */
export function isInf1(instanceType: string): boolean {
    return instanceType.split(".")[1] === "inf1";
}

/** What an excluded instance type refuses: the policy asks for guardrails that cannot act. */
function excludedInstanceTypeProblems(settings: PolicySettings): PolicyProblem[] {
    const why = guardrailsExcludedBy(settings);
    if (why === undefined) return [];
    const { deployment } = settings;
    const asked = [
        deployment.strategy === "allAtOnce" ? "" : `deployment.strategy ${deployment.strategy}`,
        deployment.bakeTimeSeconds > 0 ? `deployment.bakeTimeSeconds ${deployment.bakeTimeSeconds}` : "",
        deployment.rollbackAlarmNames.length > 0 ? "deployment.rollbackAlarmNames" : "",
    ].filter((key) => key !== "");
    if (asked.length === 0) return [];
    return [
        {
            path: ["instanceType"],
            message: `${why}. So ${asked.join(", ")} would never act: remove ${asked.length === 1 ? "it" : "them"} (strategy allAtOnce, bakeTimeSeconds 0, no rollbackAlarmNames) or pick an instance type the guardrails support, e.g. ml.inf2.xlarge`,
        },
    ];
}

/**
 * Whether the config asks SageMaker's guardrails to roll a deployment back:
 * some alarm feeds them (mlops:alarms with feedGuardrails, or
 * rollbackAlarmNames) and the deployment bakes (a wait after a shift, or a
 * final bake). Whether they can is `guardrailsExcludedBy`'s question.
 */
export function guardrailsConfigured(config: Pick<StackConfig, "target" | "sagemaker" | "alarms">): boolean {
    const deployment = config.sagemaker?.deployment;
    if (config.target !== "sagemaker" || deployment === undefined) return false;
    const fed = config.alarms?.feedGuardrails === true || deployment.rollbackAlarmNames.length > 0;
    return fed && (deployment.waitIntervalSeconds > 0 || deployment.bakeTimeSeconds > 0);
}

/** A warning about a valid config, named by its config key. */
export interface ConfigWarning {
    readonly path: string;
    readonly message: string;
}

/**
 * What a valid config leaves silently undone: guardrails that its alarms
 * and waits would have, on an instance type that AWS excludes from them.
 * (What the config asks for explicitly and cannot have is refused instead.)
 */
export function deploymentPolicyWarnings(config: StackConfig): ConfigWarning[] {
    const why = config.sagemaker === undefined ? undefined : guardrailsExcludedBy(config.sagemaker);
    if (why === undefined || !guardrailsConfigured(config)) return [];
    return [
        {
            path: "mlops:sagemaker.instanceType",
            message: `${why}. The alarms that feed the guardrails and the ${config.sagemaker?.deployment.waitIntervalSeconds} s wait after the shift do nothing here, and the time to restore has no guardrail path; set mlops:alarms.feedGuardrails false and waitIntervalSeconds 0 to say so, or pick an instance type the guardrails support`,
        },
    ];
}

/** What the update from one valid config to another does unlike its policy says: a renamed variant. */
export function deploymentChangeWarnings(before: StackConfig, after: StackConfig): ConfigWarning[] {
    if (before.target !== "sagemaker" || after.target !== "sagemaker") return [];
    const why = guardrailsExcludedByChange(before.sagemaker, after.sagemaker);
    if (why === undefined) return [];
    const renamed = before.sagemaker?.variantName !== after.sagemaker?.variantName;
    const key = renamed ? "variantName" : before.sagemaker?.standby !== after.sagemaker?.standby ? "standby" : "standbyVariantName";
    return [
        {
            path: `mlops:sagemaker.${key}`,
            message: renamed
                ? `${why}. It also replaces every endpoint config. Keep the name, or make this update when an all-at-once switch is acceptable`
                : `${why}. It also replaces the endpoint's config (a new fleet). Make this update on its own, when an all-at-once switch is acceptable, not with a new model version`,
        },
    ];
}
