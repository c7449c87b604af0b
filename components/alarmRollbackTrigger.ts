/**
 * Closes the loop after SageMaker's own bake: when the stack's composite
 * alarm enters ALARM, an EventBridge rule invokes a Lambda (`trigger/`)
 * that restores traffic to the warm rollback target at once, then starts a
 * CodeBuild run of `mlops rollback` so the stack's pin and state follow.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { version as PULUMI_SDK_VERSION } from "@pulumi/pulumi/version";
import { buildSync } from "esbuild";
import * as path from "node:path";
import { stringify } from "yaml";
import { parseEcrImage } from "./sagemakerModelEndpoint";
import { MAX_TRIGGER_COMPONENT_NAME_LENGTH, triggerNameProblem } from "../catalog/names";
import { componentArgsMessage, parseTriggerArgs, type Target, type TriggerSettings as TriggerConfig, type TriggerSettingsInput } from "../config/schema";
import { ALARM_STATE_CHANGE } from "../trigger/alarmEvent";
import { BUILD_STATE_CHANGE, UNRECONCILED_BUILD_STATUSES } from "../trigger/buildEvent";
import { triggerEnvironment, type TriggerSettings as HandlerSettings } from "../trigger/settings";
import type { EndpointVariantsRecord } from "../catalog/endpointVariants";
import { startBuildStatements } from "../policy/codebuildOverrides";

export interface AlarmRollbackTriggerArgs {
    /** The model's name (`mlops:model`), in descriptions, tags and the handler's environment. */
    readonly model: string;
    /** The stack the reconcile build runs `mlops rollback` against. */
    readonly stack: string;
    /** What serves the model (`mlops:target`): sagemaker's fast path is UpdateEndpoint; kubernetes has one on EKS (`kubernetes`), else waits for the reconcile build. */
    readonly target: Target;
    /** `mlops:trigger`: `runnerRoleArn` and `source` (required), cooldown, event age, busy re-checks, log retention. */
    readonly settings: TriggerSettingsInput;
    /** The composite alarm to act on (from `EndpointAlarms`). */
    readonly alarmName: pulumi.Input<string>;
    /** The composite alarm's ARN, which the EventBridge rule matches. */
    readonly alarmArn: pulumi.Input<string>;
    /** The SNS topic the handler reports to. */
    readonly topicArn: pulumi.Input<string>;
    /** The KMS key the topic is encrypted with; the handler may use it to publish. */
    readonly topicKeyArn: pulumi.Input<string>;
    /** The version serving now. */
    readonly pinnedVersion: string;
    /** The warm version an alarm restores. @default none: every alarm fails closed */
    readonly rollbackVersion?: string;
    /** The SageMaker fast path's resources (sagemaker target only). @default no fast path */
    readonly sagemaker?: {
        /** The endpoint the fast path switches. */
        readonly endpointName: pulumi.Input<string>;
        /** Endpoint config name per warm version. */
        readonly endpointConfigNames: pulumi.Input<Record<string, string>>;
        /** Model name per warm version. */
        readonly modelNames: pulumi.Input<Record<string, string>>;
        /** The rollback target's image, by digest: checked in ECR before the restore. @default not checked */
        readonly rollbackImage?: string;
        /** The endpoint's guardrail alarms, kept unchanged by the fast path. */
        readonly guardrailAlarmNames: readonly string[];
        /** The KMS key (or alias) ARN of the endpoint configs' storage volumes: the fast path's UpdateEndpoint needs a grant on it. @default no key */
        readonly storageKeyArn?: pulumi.Input<string | undefined>;
        /**
         * Hot standby (`mlops:sagemaker.standby: hot`): the variants of the
         * config the endpoint runs and `instanceCount`; the fast path to a
         * version among them is one UpdateEndpointWeightsAndCapacities call.
         * @default cold: the fast path is UpdateEndpoint
         */
        readonly hotStandby?: { readonly record: EndpointVariantsRecord; readonly instanceCount: number };
    };
    /**
     * The Kubernetes instant switch (kubernetes target with `mlops:trigger.eks`):
     * the Service the handler switches and what the switch needs of it.
     * @default no instant switch: the reconcile build moves traffic
     */
    readonly kubernetes?: {
        readonly namespace: pulumi.Input<string>;
        readonly serviceName: pulumi.Input<string>;
        /** The rollback target's Deployment name. */
        readonly rollbackDeployment: pulumi.Input<string>;
        readonly replicas: number;
        readonly startupTimeoutSeconds: number;
        readonly atReducedCapacity: boolean;
        /** The Kubernetes group the handler's role is mapped to (its access entry); the model's Role lets it read and patch the Service only. */
        readonly switchGroup: string;
    };
    /** Extra tags on every child. @default {} */
    readonly tags?: Record<string, string>;
}

/** The Kubernetes group whose members may make a model's instant switch: the trigger's access entry maps its role into it, and the model's Role binds it. */
export function switchGroupFor(model: string): string {
    return `mlops-rollback-switch-${model}`;
}

export class AlarmRollbackTrigger extends pulumi.ComponentResource {
    public readonly functionName: pulumi.Output<string>;
    public readonly runnerProjectName: pulumi.Output<string>;
    public readonly stateTableName: pulumi.Output<string>;
    public readonly deadLetterQueueUrl: pulumi.Output<string>;

    constructor(name: string, args: AlarmRollbackTriggerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:aws:AlarmRollbackTrigger", name, {}, opts);
        // Defaults and checks of the stack config's own schema: what `pulumi up` refuses, the component refuses too.
        const parsed = parseTriggerArgs(args);
        if (!parsed.success) throw new pulumi.ResourceError(componentArgsMessage("AlarmRollbackTrigger", name, parsed.problems), this);
        // Every child is auto-named from `name`: the longest must fit its service's limit.
        const tooLong = triggerNameProblem(name);
        if (tooLong !== undefined) {
            throw new pulumi.ResourceError(`AlarmRollbackTrigger ${name}: a name of at most ${MAX_TRIGGER_COMPONENT_NAME_LENGTH} characters: ${tooLong}`, this);
        }
        const { settings } = parsed.data;
        const cliWarning = pulumiCliVersionWarning(settings.pulumiCli.version, PULUMI_SDK_VERSION);
        if (cliWarning !== undefined) void pulumi.log.warn(cliWarning, this);
        const tags = { ...args.tags, "mlops:model": args.model };
        const account = aws.getCallerIdentityOutput({}, { parent: this });
        const region = aws.getRegionOutput({}, { parent: this });
        const partition = aws.getPartitionOutput({}, { parent: this });

        const stateTable = new aws.dynamodb.Table(
            `${name}-state`,
            {
                billingMode: "PAY_PER_REQUEST",
                hashKey: "pk",
                attributes: [{ name: "pk", type: "S" }],
                // Dedupe records expire; the cooldown record is overwritten.
                ttl: { attributeName: "expiresAt", enabled: true },
                pointInTimeRecovery: { enabled: true },
                serverSideEncryption: { enabled: true },
                tags,
            },
            { parent: this },
        );
        const deadLetterQueue = new aws.sqs.Queue(
            `${name}-dlq`,
            { sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 3600, tags },
            { parent: this },
        );
        const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: settings.logRetentionDays, tags }, { parent: this });

        const runner = new aws.codebuild.Project(
            `${name}-runner`,
            {
                description: `Reconciles stack ${args.stack} after an alarm-triggered rollback of ${args.model} (mlops-rollback)`,
                serviceRole: settings.runnerRoleArn,
                // One reconcile at a time: CodeBuild refuses to start a second
                // (it does not queue it) rather than let it race the first for the stack lock.
                concurrentBuildLimit: 1,
                source: {
                    type: settings.source.type,
                    location: settings.source.location,
                    buildspec: runnerBuildspec({
                        target: args.target,
                        projectDirectory: settings.projectDirectory,
                        pulumiCli: settings.pulumiCli,
                        sourceVersion: settings.source.version,
                    }),
                },
                sourceVersion: settings.source.version,
                artifacts: { type: "NO_ARTIFACTS" },
                environment: {
                    type: "LINUX_CONTAINER",
                    computeType: "BUILD_GENERAL1_SMALL",
                    image: "aws/codebuild/standard:7.0",
                    privilegedMode: false,
                    environmentVariables: runnerEnvironment(args.stack, settings),
                },
                logsConfig: { cloudwatchLogs: { groupName: logGroup.name, streamName: "runner" } },
                buildTimeout: 60,
                tags,
            },
            { parent: this },
        );

        const role = new aws.iam.Role(
            `${name}-role`,
            {
                description: `Runs the alarm rollback trigger of ${args.model} (mlops-rollback)`,
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
                }),
                tags,
            },
            { parent: this },
        );
        const sagemaker = args.sagemaker;
        const policy = new aws.iam.RolePolicy(
            `${name}-policy`,
            {
                role: role.id,
                policy: pulumi
                    .all([
                        pulumi.all([partition.partition, account.accountId, region.region]),
                        pulumi.all([logGroup.arn, stateTable.arn, deadLetterQueue.arn, args.topicArn, args.topicKeyArn]),
                        sagemakerPolicyArgs(sagemaker, args.rollbackVersion),
                    ])
                    .apply(([[partitionName, accountId, regionName], [logGroupArn, stateTableArn, deadLetterQueueArn, topicArn, topicKeyArn], sagemakerArgs]) =>
                        JSON.stringify(
                            triggerRolePolicy({
                                partition: partitionName,
                                accountId,
                                region: regionName,
                                logGroupArn,
                                stateTableArn,
                                deadLetterQueueArn,
                                topicArn,
                                topicKeyArn,
                                sagemaker: sagemakerArgs,
                            }),
                        ),
                    ),
            },
            { parent: this },
        );

        // The reconcile build runs as the deployer: the handler may start it with its own
        // variables and nothing else. A managed policy of its own: these statements would
        // take half of the 10,240 characters IAM allows a role's inline policies together.
        const startPolicy = new aws.iam.Policy(
            `${name}-start-policy`,
            {
                description: `Lets the alarm rollback trigger of ${args.model} start its reconcile build with no override but its variables (mlops-rollback)`,
                policy: runner.arn.apply((projectArn) =>
                    JSON.stringify({
                        Version: "2012-10-17",
                        Statement: [
                            ...startBuildStatements(projectArn, RECONCILE_BUILD_VARIABLES),
                            // A retry whose record lost the build id finds that build (trigger/awsTriggerPorts.ts, findReconcile).
                            {
                                Sid: "FindReconcile",
                                Effect: "Allow",
                                Action: ["codebuild:ListBuildsForProject", "codebuild:BatchGetBuilds"],
                                Resource: [projectArn],
                            },
                        ],
                    }),
                ),
                tags,
            },
            { parent: this },
        );
        const startPolicyAttachment = new aws.iam.RolePolicyAttachment(
            `${name}-start-policy-attachment`,
            { role: role.name, policyArn: startPolicy.arn },
            { parent: this },
        );

        const handlerSettings = {
            target: args.target,
            model: args.model,
            stack: args.stack,
            alarmName: args.alarmName,
            pinnedVersion: args.pinnedVersion,
            rollbackVersion: args.rollbackVersion,
            endpointName: sagemaker?.endpointName ?? "",
            pinnedConfigName: pulumi.output(sagemaker?.endpointConfigNames ?? {}).apply((names) => names[args.pinnedVersion] ?? ""),
            rollbackConfigName: pulumi
                .output(sagemaker?.endpointConfigNames ?? {})
                .apply((names) => (args.rollbackVersion === undefined ? "" : (names[args.rollbackVersion] ?? ""))),
            rollbackImage: sagemaker?.rollbackImage ?? "",
            guardrailAlarmNames: [...(sagemaker?.guardrailAlarmNames ?? [])],
            hotStandby: sagemaker?.hotStandby,
            stateTable: stateTable.name,
            runnerProject: runner.name,
            topicArn: args.topicArn,
            cooldownSeconds: settings.cooldownSeconds,
            maxEventAgeSeconds: settings.maxEventAgeSeconds,
            busyRechecks: settings.busyRechecks,
            busyRecheckSeconds: settings.busyRecheckSeconds,
            ...this.kubernetesSwitch(name, args, settings.eks?.clusterName, role, tags),
        };
        const handler = new aws.lambda.Function(
            `${name}-function`,
            {
                description: `Restores ${args.model} to its warm version when ${args.stack}'s composite alarm fires (mlops-rollback)`,
                runtime: aws.lambda.Runtime.NodeJS24dX,
                handler: "index.handler",
                code: new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset(bundledTriggerHandler()) }),
                role: role.arn,
                // One handler at a time: alarm storms queue instead of racing.
                reservedConcurrentExecutions: 1,
                timeout: handlerTimeoutSeconds(settings),
                memorySize: 256,
                deadLetterConfig: { targetArn: deadLetterQueue.arn },
                loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
                environment: {
                    variables: pulumi.all(handlerSettings).apply((resolved) => triggerEnvironment(resolved as Omit<HandlerSettings, "functionName">)),
                },
                tags,
            },
            // The role must be able to write logs, read its table and start the build before the first event.
            { parent: this, dependsOn: [policy, startPolicyAttachment] },
        );
        // Apart from the main policy: it names the function, which waits for that policy.
        new aws.iam.RolePolicy(
            `${name}-self-policy`,
            {
                role: role.id,
                policy: handler.arn.apply((functionArn) =>
                    JSON.stringify({
                        Version: "2012-10-17",
                        Statement: [{ Sid: "ReadOwnLastModified", Effect: "Allow", Action: ["lambda:GetFunctionConfiguration"], Resource: [functionArn] }],
                    }),
                ),
            },
            { parent: this },
        );
        new aws.lambda.FunctionEventInvokeConfig(
            `${name}-invoke-config`,
            { functionName: handler.name, maximumEventAgeInSeconds: settings.maxEventAgeSeconds, maximumRetryAttempts: 2 },
            { parent: this },
        );

        const rule = new aws.cloudwatch.EventRule(
            `${name}-rule`,
            {
                description: `${args.model} (${args.stack}): the composite alarm entered ALARM`,
                eventPattern: pulumi
                    .all([args.alarmName, args.alarmArn])
                    .apply(([alarmName, alarmArn]) => JSON.stringify(alarmEventPattern(alarmName, alarmArn))),
                tags,
            },
            { parent: this },
        );
        const permission = new aws.lambda.Permission(
            `${name}-invoke`,
            { action: "lambda:InvokeFunction", function: handler.name, principal: "events.amazonaws.com", sourceArn: rule.arn },
            { parent: this },
        );
        new aws.cloudwatch.EventTarget(
            `${name}-target`,
            {
                rule: rule.name,
                arn: handler.arn,
                retryPolicy: { maximumEventAgeInSeconds: settings.maxEventAgeSeconds, maximumRetryAttempts: 10 },
                deadLetterConfig: { arn: deadLetterQueue.arn },
            },
            { parent: this, dependsOn: [permission] },
        );

        // The reconcile build's failure is the handler's to report too: it
        // already may publish to the topic, so no topic policy is needed.
        const buildRule = new aws.cloudwatch.EventRule(
            `${name}-build-rule`,
            {
                description: `${args.model} (${args.stack}): the rollback reconcile build failed or was stopped`,
                eventPattern: runner.name.apply((projectName) => JSON.stringify(reconcileFailedPattern(projectName))),
                tags,
            },
            { parent: this },
        );
        const buildPermission = new aws.lambda.Permission(
            `${name}-build-invoke`,
            { action: "lambda:InvokeFunction", function: handler.name, principal: "events.amazonaws.com", sourceArn: buildRule.arn },
            { parent: this },
        );
        new aws.cloudwatch.EventTarget(
            `${name}-build-target`,
            { rule: buildRule.name, arn: handler.arn, deadLetterConfig: { arn: deadLetterQueue.arn } },
            { parent: this, dependsOn: [buildPermission] },
        );

        new aws.sqs.QueuePolicy(
            `${name}-dlq-policy`,
            {
                queueUrl: deadLetterQueue.url,
                policy: pulumi.all([deadLetterQueue.arn, rule.arn, buildRule.arn]).apply(([queueArn, ...ruleArns]) =>
                    JSON.stringify({
                        Version: "2012-10-17",
                        Statement: [
                            {
                                Sid: "RuleDeliversUndeliverableEvents",
                                Effect: "Allow",
                                Principal: { Service: "events.amazonaws.com" },
                                Action: "sqs:SendMessage",
                                Resource: queueArn,
                                Condition: { ArnEquals: { "aws:SourceArn": ruleArns } },
                            },
                        ],
                    }),
                ),
            },
            { parent: this },
        );
        // A message in the dead-letter queue is an event the trigger could not finish (its error says where things
        // stand and how to finish by hand): tell people on the stack's topic. If SNS is what failed, the queue (14 days),
        // this alarm's state and the function's log still hold it.
        new aws.cloudwatch.MetricAlarm(
            `${name}-dlq-alarm`,
            {
                alarmDescription: `${args.model} (${args.stack}): the rollback trigger could not finish an event; its dead-letter queue holds it, with the error that says how to finish by hand (mlops-rollback)`,
                namespace: "AWS/SQS",
                metricName: "ApproximateNumberOfMessagesVisible",
                dimensions: { QueueName: deadLetterQueue.name },
                statistic: "Maximum",
                period: 60,
                evaluationPeriods: 1,
                threshold: 0,
                comparisonOperator: "GreaterThanThreshold",
                // SQS stops sending the metric for a queue that stays empty: no data is no dead letter.
                treatMissingData: "notBreaching",
                alarmActions: [args.topicArn],
                tags,
            },
            { parent: this },
        );
        this.functionName = handler.name;
        this.runnerProjectName = runner.name;
        this.stateTableName = stateTable.name;
        this.deadLetterQueueUrl = deadLetterQueue.url;
        this.registerOutputs({
            functionName: this.functionName,
            runnerProjectName: this.runnerProjectName,
            stateTableName: this.stateTableName,
            deadLetterQueueUrl: this.deadLetterQueueUrl,
        });
    }

    /**
     * The handler's settings for the EKS instant switch, and its access:
     * an EKS access entry that maps the handler's role into the model's
     * switch group (no IAM permission is needed: the handler authenticates
     * with a presigned STS GetCallerIdentity, as aws-iam-authenticator
     * documents, and the cluster's RBAC, declared with the model's Service,
     * lets that group read and patch that one Service). The cluster's
     * endpoint and CA are read here, at deploy time, so the handler needs no
     * eks:DescribeCluster either.
     */
    private kubernetesSwitch(name: string, args: AlarmRollbackTriggerArgs, clusterName: string | undefined, role: aws.iam.Role, tags: Record<string, string>) {
        const kubernetes = args.kubernetes;
        const none = {
            kubernetes: { namespace: "", serviceName: "", rollbackDeployment: "", replicas: 1, startupTimeoutSeconds: 600, atReducedCapacity: false },
        };
        if (args.target !== "kubernetes" || clusterName === undefined || kubernetes === undefined || args.rollbackVersion === undefined) return none;
        const cluster = aws.eks.getClusterOutput({ name: clusterName }, { parent: this });
        new aws.eks.AccessEntry(
            `${name}-access`,
            { clusterName, principalArn: role.arn, type: "STANDARD", kubernetesGroups: [kubernetes.switchGroup], tags },
            { parent: this },
        );
        return {
            eks: { clusterName, endpoint: cluster.endpoint, caData: cluster.certificateAuthorities.apply((authorities) => authorities[0]?.data ?? "") },
            kubernetes: {
                namespace: kubernetes.namespace,
                serviceName: kubernetes.serviceName,
                rollbackDeployment: kubernetes.rollbackDeployment,
                replicas: kubernetes.replicas,
                startupTimeoutSeconds: kubernetes.startupTimeoutSeconds,
                atReducedCapacity: kubernetes.atReducedCapacity,
            },
        };
    }
}

/** Only the composite alarm's transitions into ALARM; the handler re-checks all of it anyway. */
export function alarmEventPattern(alarmName: string, alarmArn: string): object {
    return {
        source: ["aws.cloudwatch"],
        "detail-type": [ALARM_STATE_CHANGE],
        resources: [alarmArn],
        detail: { alarmName: [alarmName], state: { value: ["ALARM"] } },
    };
}

/** The runner project's builds that leave a rollback unreconciled. */
export function reconcileFailedPattern(projectName: string): object {
    return {
        source: ["aws.codebuild"],
        "detail-type": [BUILD_STATE_CHANGE],
        detail: { "project-name": [projectName], "build-status": UNRECONCILED_BUILD_STATUSES },
    };
}

/** Long enough for every busy re-check plus the calls around them. */
export function handlerTimeoutSeconds(settings: Pick<TriggerConfig, "busyRechecks" | "busyRecheckSeconds">): number {
    return settings.busyRechecks * settings.busyRecheckSeconds + 60;
}

/** The environment variables the handler's StartBuild sets (`trigger/awsTriggerPorts.ts`), the only override the trigger's role may make. */
export const RECONCILE_BUILD_VARIABLES = ["MLOPS_ROLLBACK_FROM", "MLOPS_ROLLBACK_VERSION", "MLOPS_ALARM_NAME", "MLOPS_EVENT_ID"] as const;

export interface RunnerBuildspecOptions {
    readonly target: Target;
    /** The Pulumi project's folder in the repository (`mlops:trigger.projectDirectory`). @default "." */
    readonly projectDirectory?: string;
    /** The Pulumi CLI release to install and the SHA-256 of its linux-x64 tarball (`mlops:trigger.pulumiCli`). */
    readonly pulumiCli: { readonly version: string; readonly sha256: string };
    /** The project's source version (`mlops:trigger.source.version`): the build refuses to run any other. @default not checked */
    readonly sourceVersion?: string;
}

/**
 * The reconcile build's one job. Fixed here, and a StartBuild that overrides
 * it, or anything but the handler's variables, is denied by the trigger's
 * policy (`startBuildStatements`): whoever can start the build can choose the
 * version, not the commands. It runs in the user's Pulumi project
 * (`projectDirectory` of the checked-out repository), with that project's own
 * dependencies (`npm ci` there, verified by its lockfile), so the `mlops` and
 * the program it runs are the project's, as on a laptop. The Pulumi CLI is a
 * pinned release checked against its SHA-256 before it is unpacked; a build
 * started on another source version (`sourceVersion` has no IAM condition
 * key) stops before anything from that checkout runs.
 *
 * Written with a YAML library: a command with ": " in it is a mapping to a
 * hand-written YAML list, which CodeBuild rejects.
 */
export function runnerBuildspec(options: RunnerBuildspecOptions): string {
    const { target, projectDirectory = ".", pulumiCli, sourceVersion } = options;
    // SageMaker: the handler already moved the endpoint; the run waits for it, refreshes, and keeps the live policy.
    const fastPath = target === "sagemaker" ? " --after-fast-path" : "";
    // Absolute: CodeBuild keeps the shell's directory between commands. The schema allows no quote or '..' in it.
    const project = projectDirectory === "." ? '"$CODEBUILD_SRC_DIR"' : `"$CODEBUILD_SRC_DIR/${projectDirectory}"`;
    const tarball = `pulumi-v${pulumiCli.version}-linux-x64.tar.gz`;
    const sourceCheck =
        sourceVersion === undefined
            ? []
            : [
                  `test "$CODEBUILD_SOURCE_VERSION" = ${shellQuoted(sourceVersion)} || { echo "this build checked out source version $CODEBUILD_SOURCE_VERSION, not mlops:trigger.source.version: start it from the rollback trigger" >&2; exit 2; }`,
              ];
    const buildspec = {
        version: 0.2,
        env: { shell: "bash" },
        phases: {
            install: {
                commands: [
                    ...sourceCheck,
                    `curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 --output /tmp/${tarball} https://get.pulumi.com/releases/sdk/${tarball}`,
                    `echo "${pulumiCli.sha256}  /tmp/${tarball}" | sha256sum --check --strict || { echo "${tarball} does not match mlops:trigger.pulumiCli.sha256: not installing it" >&2; exit 2; }`,
                    `mkdir -p "$HOME/.pulumi/bin" && tar --extract --gzip --file /tmp/${tarball} --directory "$HOME/.pulumi/bin" --strip-components=1`,
                    'export PATH="$HOME/.pulumi/bin:$PATH"',
                    `cd ${project} && npm ci`,
                ],
            },
            build: {
                commands: [
                    'test -n "$MLOPS_ROLLBACK_VERSION" && test -n "$MLOPS_ROLLBACK_FROM" || { echo "MLOPS_ROLLBACK_VERSION and MLOPS_ROLLBACK_FROM are not set: start this build from the rollback trigger" >&2; exit 2; }',
                    'export PATH="$HOME/.pulumi/bin:$PATH"',
                    `cd ${project} && npx mlops rollback --stack "$MLOPS_STACK" --version "$MLOPS_ROLLBACK_VERSION" --expect-from "$MLOPS_ROLLBACK_FROM" --reason "alarm $MLOPS_ALARM_NAME (event $MLOPS_EVENT_ID)" --yes${fastPath}`,
                ],
            },
        },
    };
    // No line folding: a folded command is the same string, but a reviewer reads the file.
    return stringify(buildspec, { lineWidth: 0 });
}

/** One shell word, whatever it holds: single quotes, each ' written as '\''. */
function shellQuoted(value: string): string {
    return `'${value.replace(/'/g, "'\\''")}'`;
}

/**
 * A Pulumi CLI older than the program's SDK may not run it: the warning
 * `pulumi up` shows, or undefined. Versions are `major.minor.patch`.
 */
export function pulumiCliVersionWarning(cliVersion: string, sdkVersion: string): string | undefined {
    const parts = (version: string) => version.split(/[.+-]/).slice(0, 3).map(Number);
    const [cli, sdk] = [parts(cliVersion), parts(sdkVersion)];
    const order = cli.map((part, index) => part - sdk[index]).find((difference) => difference !== 0) ?? 0;
    if (!(order < 0)) return undefined;
    return `mlops:trigger.pulumiCli.version ${cliVersion} is older than this program's @pulumi/pulumi ${sdkVersion}: the reconcile build may fail to run it; pin ${sdkVersion} or later with its sha256`;
}

function runnerEnvironment(stack: string, settings: TriggerConfig): aws.types.input.codebuild.ProjectEnvironmentEnvironmentVariable[] {
    const variables: aws.types.input.codebuild.ProjectEnvironmentEnvironmentVariable[] = [{ name: "MLOPS_STACK", value: stack, type: "PLAINTEXT" }];
    if (settings.pulumiBackendUrl !== undefined) variables.push({ name: "PULUMI_BACKEND_URL", value: settings.pulumiBackendUrl, type: "PLAINTEXT" });
    if (settings.pulumiSecret !== undefined) {
        variables.push({ name: settings.pulumiSecret.variable, value: settings.pulumiSecret.secretArn, type: "SECRETS_MANAGER" });
    }
    return variables;
}

function sagemakerPolicyArgs(
    sagemaker: AlarmRollbackTriggerArgs["sagemaker"],
    rollbackVersion: string | undefined,
): pulumi.Output<TriggerRolePolicyArgs["sagemaker"]> {
    if (sagemaker === undefined) return pulumi.output(undefined);
    return pulumi
        .all([
            pulumi.output(sagemaker.endpointName),
            pulumi.output(sagemaker.endpointConfigNames),
            pulumi.output(sagemaker.modelNames),
            pulumi.output(sagemaker.storageKeyArn),
        ])
        .apply(([endpointName, configNames, modelNames, storageKeyArn]) => ({
            endpointName,
            endpointConfigNames: Object.values(configNames),
            rollbackConfigName: rollbackVersion === undefined ? undefined : configNames[rollbackVersion],
            rollbackModelName: rollbackVersion === undefined ? undefined : modelNames[rollbackVersion],
            rollbackImage: sagemaker.rollbackImage,
            guardrailAlarmNames: sagemaker.guardrailAlarmNames,
            storageKeyArn,
            movesWeights: sagemaker.hotStandby !== undefined,
        }));
}

interface PolicyStatement {
    readonly Sid: string;
    readonly Effect: "Allow" | "Deny";
    readonly Action: string[];
    readonly Resource: string[];
    readonly Condition?: object;
}

export interface TriggerRolePolicyArgs {
    readonly partition: string;
    readonly accountId: string;
    readonly region: string;
    readonly logGroupArn: string;
    readonly stateTableArn: string;
    readonly deadLetterQueueArn: string;
    readonly topicArn: string;
    readonly topicKeyArn: string;
    readonly sagemaker?: {
        readonly endpointName: string;
        readonly endpointConfigNames: readonly string[];
        readonly rollbackConfigName?: string;
        readonly rollbackModelName?: string;
        readonly rollbackImage?: string;
        /** The endpoint's guardrail alarms, which the fast path's UpdateEndpoint names. */
        readonly guardrailAlarmNames?: readonly string[];
        /** The KMS key or alias ARN the endpoint configs encrypt their storage volumes with. */
        readonly storageKeyArn?: string;
        /** Hot standby: the fast path calls UpdateEndpointWeightsAndCapacities on the endpoint. @default false */
        readonly movesWeights?: boolean;
    };
}

/**
 * The handler's policy, every statement on named resources: the one table,
 * queue, topic and key (StartBuild on the project is `startBuildStatements`, apart); UpdateEndpoint on the one endpoint and the
 * warm configs (IAM matches SageMaker ARNs by their lowercase names).
 */
export function triggerRolePolicy(args: TriggerRolePolicyArgs): { Version: string; Statement: PolicyStatement[] } {
    const { partition, accountId, region } = args;
    const sagemakerArn = (kind: string, resourceName: string) => `arn:${partition}:sagemaker:${region}:${accountId}:${kind}/${resourceName.toLowerCase()}`;
    const statements: PolicyStatement[] = [
        { Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${args.logGroupArn}:*`] },
        {
            Sid: "DedupeAndCooldown",
            Effect: "Allow",
            // UpdateItem: each step of an incident is written into its record (trigger/incident.ts).
            Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            Resource: [args.stateTableArn],
        },
        { Sid: "DeadLetters", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [args.deadLetterQueueArn] },
        { Sid: "Notify", Effect: "Allow", Action: ["sns:Publish"], Resource: [args.topicArn] },
        { Sid: "EncryptNotifications", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey*"], Resource: [args.topicKeyArn] },
    ];
    const sagemaker = args.sagemaker;
    if (sagemaker !== undefined) {
        const endpointArn = sagemakerArn("endpoint", sagemaker.endpointName);
        statements.push(
            { Sid: "ReadEndpoint", Effect: "Allow", Action: ["sagemaker:DescribeEndpoint"], Resource: [endpointArn] },
            {
                Sid: "RestoreWarmConfig",
                Effect: "Allow",
                Action: ["sagemaker:UpdateEndpoint"],
                Resource: [endpointArn, ...sagemaker.endpointConfigNames.map((config) => sagemakerArn("endpoint-config", config))],
            },
        );
        if (sagemaker.movesWeights === true) {
            statements.push({ Sid: "MoveStandbyWeights", Effect: "Allow", Action: ["sagemaker:UpdateEndpointWeightsAndCapacities"], Resource: [endpointArn] });
        }
        const guardrails = sagemaker.guardrailAlarmNames ?? [];
        if (guardrails.length > 0) {
            // SageMaker checks that the caller of UpdateEndpoint may read the auto-rollback alarms it names.
            statements.push({
                Sid: "ReadGuardrailAlarms",
                Effect: "Allow",
                Action: ["cloudwatch:DescribeAlarms"],
                Resource: guardrails.map((alarm) => `arn:${partition}:cloudwatch:${region}:${accountId}:alarm:${alarm}`),
            });
        }
        if (sagemaker.storageKeyArn !== undefined) statements.push(...storageKeyStatements(partition, sagemaker.storageKeyArn));
        if (sagemaker.rollbackConfigName && sagemaker.rollbackModelName) {
            statements.push({
                Sid: "CheckRollbackTarget",
                Effect: "Allow",
                Action: ["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
                Resource: [sagemakerArn("endpoint-config", sagemaker.rollbackConfigName), sagemakerArn("model", sagemaker.rollbackModelName)],
            });
        }
        if (sagemaker.rollbackImage !== undefined) {
            const image = parseEcrImage(sagemaker.rollbackImage);
            statements.push({
                Sid: "CheckRollbackImage",
                Effect: "Allow",
                Action: ["ecr:DescribeImages"],
                Resource: [`arn:${partition}:ecr:${image.region}:${image.account}:repository/${image.repository}`],
            });
        }
    }
    return { Version: "2012-10-17", Statement: statements };
}

/**
 * The caller of UpdateEndpoint must be allowed to use the config's storage key
 * (SageMaker's CreateEndpointConfig reference, KmsKeyId): SageMaker creates a
 * grant on it for the new instances. A key named by alias is matched by its
 * alias, since IAM authorizes key use against the key's ARN, not the alias's.
 */
export function storageKeyStatements(partition: string, keyOrAliasArn: string): PolicyStatement[] {
    const alias = /^arn:[a-z-]+:kms:(?<region>[a-z0-9-]+):(?<account>\d{12}):(?<alias>alias\/.+)$/.exec(keyOrAliasArn)?.groups;
    const resource = alias === undefined ? [keyOrAliasArn] : [`arn:${partition}:kms:${alias.region}:${alias.account}:key/*`];
    const byAlias = alias === undefined ? {} : { "ForAnyValue:StringEquals": { "kms:ResourceAliases": alias.alias } };
    return [
        {
            Sid: "GrantEndpointStorageKey",
            Effect: "Allow",
            Action: ["kms:CreateGrant"],
            Resource: resource,
            Condition: { Bool: { "kms:GrantIsForAWSResource": "true" }, ...byAlias },
        },
        {
            Sid: "DescribeEndpointStorageKey",
            Effect: "Allow",
            Action: ["kms:DescribeKey"],
            Resource: resource,
            ...(alias === undefined ? {} : { Condition: byAlias }),
        },
    ];
}

let bundle: string | undefined;

/**
 * `trigger/lambda.ts` and its dependencies (the AWS SDK clients included, so
 * the function runs the versions tested here) as one CommonJS file. Built
 * once per process, synchronously: resources are declared outside `apply`.
 */
export function bundledTriggerHandler(): string {
    bundle ??= buildSync({
        // lambda.js beside the compiled package, lambda.ts when run from source.
        entryPoints: [path.join(__dirname, "..", "trigger", `lambda${path.extname(__filename)}`)],
        bundle: true,
        platform: "node",
        target: "node22",
        format: "cjs",
        write: false,
        minify: true,
        legalComments: "none",
        logLevel: "silent",
    }).outputFiles[0].text;
    return bundle;
}
