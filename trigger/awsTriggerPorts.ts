/**
 * `TriggerPorts` on the AWS SDK v3: DynamoDB for dedupe and cooldown,
 * SageMaker and ECR for the endpoint and the target, CodeBuild for the
 * reconcile run, SNS for the notification.
 */
import { BatchGetBuildsCommand, CodeBuildClient, ListBuildsForProjectCommand, StartBuildCommand } from "@aws-sdk/client-codebuild";
import {
    ConditionalCheckFailedException,
    DeleteItemCommand,
    DynamoDBClient,
    GetItemCommand,
    PutItemCommand,
    UpdateItemCommand,
    type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import { DescribeImagesCommand, ECRClient } from "@aws-sdk/client-ecr";
import {
    DescribeEndpointCommand,
    DescribeEndpointConfigCommand,
    DescribeModelCommand,
    SageMakerClient,
    UpdateEndpointCommand,
    UpdateEndpointWeightsAndCapacitiesCommand,
} from "@aws-sdk/client-sagemaker";
import { GetFunctionConfigurationCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { randomUUID } from "node:crypto";
import type { RollbackRecord, TriggerPorts } from "./handleAlarmEvent";
import type { IncidentNotice, IncidentSteps, IncidentStepUpdate, TrafficStep } from "./incident";
import type { TriggerSettings } from "./settings";

/**
 * How long a dedupe record (claimed or handled) is kept: past every
 * redelivery. EventBridge retries a target for up to 24 h and AWS services
 * re-send an event to EventBridge for up to 24 h; Lambda keeps an event at
 * most 6 h. DynamoDB deletes expired items lazily, which only keeps them longer.
 */
const EVENT_RECORD_TTL_SECONDS = 2 * 24 * 3600;

/** How many of the runner project's newest builds `findReconcile` reads (BatchGetBuilds takes up to 100). */
const RECENT_BUILDS_LOOKED_AT = 20;

/** Client options shared by every client: the region, and in tests an endpoint on loopback. */
export interface AwsClientOptions {
    readonly region?: string;
    readonly endpoint?: string;
    readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export function awsTriggerPorts(settings: TriggerSettings, options: AwsClientOptions = {}): TriggerPorts {
    const dynamodb = new DynamoDBClient(options);
    const sagemaker = new SageMakerClient(options);
    const ecr = new ECRClient(options);
    const codebuild = new CodeBuildClient(options);
    const sns = new SNSClient(options);
    const lambda = new LambdaClient(options);
    const table = settings.stateTable;
    // One cooldown record per stack and target: a rollback of the endpoint,
    // whichever alarm caused it, blocks the next one.
    const rollbackKey = { pk: { S: `rollback#${settings.stack}#${settings.model}` } };

    return {
        async claimEvent(key, now, leaseUntil) {
            const token = randomUUID();
            try {
                await dynamodb.send(
                    new PutItemCommand({
                        TableName: table,
                        Item: {
                            pk: { S: key },
                            claim: { S: "claimed" },
                            token: { S: token },
                            leaseUntil: { N: String(leaseUntil.getTime()) },
                            expiresAt: { N: String(expiresAt()) },
                        },
                        // New, or claimed by a delivery whose lease has run out (Lambda ended it).
                        ConditionExpression: "attribute_not_exists(pk) OR (#claim = :claimed AND #leaseUntil < :now)",
                        // Names, not words: DynamoDB reserves many words in expressions.
                        ExpressionAttributeNames: { "#claim": "claim", "#leaseUntil": "leaseUntil" },
                        ExpressionAttributeValues: { ":claimed": { S: "claimed" }, ":now": { N: String(now.getTime()) } },
                    }),
                );
                return { state: "claimed", token };
            } catch (error) {
                if (!(error instanceof ConditionalCheckFailedException)) throw error;
            }
            const { Item } = await dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: key } }, ConsistentRead: true }));
            // Released in between: free again; the caller looks again shortly.
            if (Item === undefined) return { state: "in-flight", leaseUntil: now };
            if (Item.claim?.S === "claimed") return { state: "in-flight", leaseUntil: new Date(Number(Item.leaseUntil?.N ?? 0)) };
            // "handled", or a record of an older handler (written when it took the event).
            return { state: "handled" };
        },

        async finishEvent(key) {
            await dynamodb.send(
                new PutItemCommand({ TableName: table, Item: { pk: { S: key }, claim: { S: "handled" }, expiresAt: { N: String(expiresAt()) } } }),
            );
        },

        async releaseEvent(key, token) {
            // Only our own claim: one taken over since belongs to another delivery.
            await dynamodb
                .send(
                    new DeleteItemCommand({
                        TableName: table,
                        Key: { pk: { S: key } },
                        ConditionExpression: "#token = :token",
                        ExpressionAttributeNames: { "#token": "token" },
                        ExpressionAttributeValues: { ":token": { S: token } },
                    }),
                )
                .catch((error: unknown) => {
                    if (!(error instanceof ConditionalCheckFailedException)) throw error;
                });
        },

        async lastRollback() {
            const { Item } = await dynamodb.send(new GetItemCommand({ TableName: table, Key: rollbackKey, ConsistentRead: true }));
            if (Item === undefined) return undefined;
            return {
                at: new Date(Number(Item.at?.N ?? 0)),
                alarmName: Item.alarmName?.S ?? "",
                eventId: Item.eventId?.S ?? "",
                from: Item.fromVersion?.S ?? "",
                to: Item.toVersion?.S ?? "",
                steps: incidentStepsOf(Item),
            };
        },

        async claimRollback(record, notBefore) {
            try {
                await dynamodb.send(
                    new PutItemCommand({
                        TableName: table,
                        Item: { ...rollbackKey, ...rollbackItem(record) },
                        // The same rule as cooldownCovers, evaluated atomically by DynamoDB.
                        ConditionExpression: "attribute_not_exists(pk) OR #at < :notBefore OR (fromVersion <> :pinned AND toVersion <> :pinned)",
                        ExpressionAttributeNames: { "#at": "at" },
                        ExpressionAttributeValues: { ":notBefore": { N: String(notBefore.getTime()) }, ":pinned": { S: record.from } },
                    }),
                );
                return true;
            } catch (error) {
                if (error instanceof ConditionalCheckFailedException) return false;
                throw error;
            }
        },

        async releaseRollback(record) {
            // Only our own claim: a newer one belongs to someone else.
            await dynamodb
                .send(
                    new DeleteItemCommand({
                        TableName: table,
                        Key: rollbackKey,
                        ConditionExpression: "eventId = :eventId",
                        ExpressionAttributeValues: { ":eventId": { S: record.eventId } },
                    }),
                )
                .catch((error: unknown) => {
                    if (!(error instanceof ConditionalCheckFailedException)) throw error;
                });
        },

        async recordIncidentStep(eventId, step) {
            const { set, values, onlyOnce } = stepUpdate(step);
            try {
                await dynamodb.send(
                    new UpdateItemCommand({
                        TableName: table,
                        Key: rollbackKey,
                        UpdateExpression: `SET ${Object.keys(set)
                            .map((name) => `#${name} = :${name}`)
                            .join(", ")}`,
                        // Only the incident's own record (not released and claimed by another event since); a build id only once.
                        ConditionExpression: `#eventId = :eventId${onlyOnce ? ` AND attribute_not_exists(#${onlyOnce})` : ""}`,
                        ExpressionAttributeNames: Object.fromEntries(["eventId", ...Object.keys(set)].map((name) => [`#${name}`, name])),
                        ExpressionAttributeValues: { ":eventId": { S: eventId }, ...values },
                    }),
                );
                return true;
            } catch (error) {
                if (error instanceof ConditionalCheckFailedException) return false;
                throw error;
            }
        },

        async describeEndpoint(endpointName) {
            const endpoint = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
            return {
                status: endpoint.EndpointStatus ?? "Unknown",
                configName: endpoint.EndpointConfigName ?? "",
                lastModified: endpoint.LastModifiedTime ?? new Date(0),
                variants: (endpoint.ProductionVariants ?? []).map((variant) => ({
                    variantName: variant.VariantName ?? "",
                    weight: variant.CurrentWeight,
                    instanceCount: variant.CurrentInstanceCount,
                })),
            };
        },

        async triggerLastUpdated() {
            if (settings.functionName === "") return undefined;
            const { LastModified } = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: settings.functionName }));
            // Lambda's format: 2026-11-27T09:00:00.000+0000.
            return LastModified === undefined ? undefined : new Date(LastModified);
        },

        async rollbackTargetProblem(configName, image) {
            const config = await sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: configName })).catch(notFoundAsUndefined);
            if (config === undefined) return `endpoint config ${configName} does not exist`;
            const modelName = config.ProductionVariants?.[0]?.ModelName;
            if (modelName === undefined) return `endpoint config ${configName} names no model`;
            const model = await sagemaker.send(new DescribeModelCommand({ ModelName: modelName })).catch(notFoundAsUndefined);
            if (model === undefined) return `model ${modelName} does not exist`;
            const modelImage = model.PrimaryContainer?.Image ?? model.Containers?.[0]?.Image;
            if (modelImage !== image) return `model ${modelName} runs ${modelImage ?? "no image"}, not the catalogued ${image}`;
            const reference = parseImageByDigest(image);
            if (reference === undefined) return `image ${image} is not pinned by digest`;
            const found = await ecr
                .send(
                    new DescribeImagesCommand({
                        registryId: reference.registryId,
                        repositoryName: reference.repository,
                        imageIds: [{ imageDigest: reference.digest }],
                    }),
                )
                .catch(notFoundAsUndefined);
            if (found === undefined || (found.imageDetails ?? []).length === 0) return `image ${image} is gone from its ECR repository`;
            return undefined;
        },

        async updateEndpoint(endpointName, configName, guardrailAlarmNames) {
            await sagemaker.send(
                new UpdateEndpointCommand({
                    EndpointName: endpointName,
                    EndpointConfigName: configName,
                    DeploymentConfig: fastPathDeploymentConfig(guardrailAlarmNames),
                }),
            );
        },

        async updateWeights(endpointName, variants) {
            await sagemaker.send(
                new UpdateEndpointWeightsAndCapacitiesCommand({
                    EndpointName: endpointName,
                    DesiredWeightsAndCapacities: variants.map((variant) => ({
                        VariantName: variant.variantName,
                        DesiredWeight: variant.weight,
                        DesiredInstanceCount: variant.instanceCount,
                    })),
                }),
            );
        },

        async startReconcile({ version, alarmName, eventId }) {
            const { build } = await codebuild.send(
                new StartBuildCommand({
                    projectName: settings.runnerProject,
                    // CodeBuild answers a repeated token (for 5 minutes) with
                    // the same build; after that, `findReconcile` is what
                    // keeps a retry from starting a second run.
                    idempotencyToken: eventId,
                    environmentVariablesOverride: [
                        { name: "MLOPS_ROLLBACK_FROM", value: settings.pinnedVersion, type: "PLAINTEXT" },
                        { name: "MLOPS_ROLLBACK_VERSION", value: version, type: "PLAINTEXT" },
                        { name: "MLOPS_ALARM_NAME", value: alarmName, type: "PLAINTEXT" },
                        { name: "MLOPS_EVENT_ID", value: eventId, type: "PLAINTEXT" },
                    ],
                }),
            );
            return build?.id ?? "(no build id returned)";
        },

        async findReconcile(eventId) {
            // The newest builds only: the project runs one build at a time, and a retry comes within hours.
            const { ids } = await codebuild.send(new ListBuildsForProjectCommand({ projectName: settings.runnerProject, sortOrder: "DESCENDING" }));
            const newest = (ids ?? []).slice(0, RECENT_BUILDS_LOOKED_AT);
            if (newest.length === 0) return undefined;
            const { builds } = await codebuild.send(new BatchGetBuildsCommand({ ids: newest }));
            const started = (builds ?? []).find((build) =>
                (build.environment?.environmentVariables ?? []).some((variable) => variable.name === "MLOPS_EVENT_ID" && variable.value === eventId),
            );
            return started?.id;
        },

        async publish(subject, message) {
            await sns.send(new PublishCommand({ TopicArn: settings.topicArn, Subject: subject, Message: message }));
        },

        sleep: (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds)),
    };
}

function expiresAt(): number {
    return Math.floor(Date.now() / 1000) + EVENT_RECORD_TTL_SECONDS;
}

function rollbackItem(record: RollbackRecord): Record<string, AttributeValue> {
    return {
        at: { N: String(record.at.getTime()) },
        alarmName: { S: record.alarmName },
        eventId: { S: record.eventId },
        fromVersion: { S: record.from },
        toVersion: { S: record.to },
        ...(record.steps === undefined ? {} : stepAttributes(record.steps)),
    };
}

/**
 * An incident's steps as item attributes: `trafficStep` (pending, moved,
 * with-build) and `trafficHow`, `buildId` once started, `told` (the last
 * notice sent).
 */
function stepAttributes(steps: IncidentSteps): Record<string, AttributeValue> {
    return {
        ...trafficAttributes(steps.traffic),
        ...(steps.buildId === undefined ? {} : { buildId: { S: steps.buildId } }),
        ...(steps.told === undefined ? {} : { told: { S: steps.told } }),
    };
}

function trafficAttributes(traffic: TrafficStep): Record<string, AttributeValue> {
    return { trafficStep: { S: traffic.state }, trafficHow: { S: traffic.state === "pending" ? "" : traffic.how } };
}

/** The attributes one step sets, and the one a conditional write sets only once. */
function stepUpdate(step: IncidentStepUpdate): { set: Record<string, AttributeValue>; values: Record<string, AttributeValue>; onlyOnce?: string } {
    const set = "traffic" in step ? trafficAttributes(step.traffic) : "buildId" in step ? { buildId: { S: step.buildId } } : { told: { S: step.told } };
    const values = Object.fromEntries(Object.entries(set).map(([name, value]) => [`:${name}`, value]));
    return { set, values, ...("buildId" in step ? { onlyOnce: "buildId" } : {}) };
}

/** The steps a record holds; undefined for a record of an older handler (no `trafficStep`), which the handler takes as finished. */
function incidentStepsOf(item: Record<string, AttributeValue>): IncidentSteps | undefined {
    const state = item.trafficStep?.S;
    const how = item.trafficHow?.S ?? "";
    const traffic: TrafficStep | undefined = state === "pending" ? { state } : state === "moved" || state === "with-build" ? { state, how } : undefined;
    if (traffic === undefined) return undefined;
    const told = item.told?.S;
    return {
        traffic,
        ...(item.buildId?.S === undefined ? {} : { buildId: item.buildId.S }),
        ...(told === "rolled-back" || told === "build-not-started" ? { told: told satisfies IncidentNotice } : {}),
    };
}

/**
 * The fast path's deployment policy: all traffic at once, no bake, so that
 * the restore is not held up (or undone) by the alarms that are still in
 * ALARM because of the bad version. The alarm *set* is passed unchanged:
 * the provider reads it back on refresh, and a different set would make the
 * next `pulumi up` replace the endpoint.
 */
export function fastPathDeploymentConfig(guardrailAlarmNames: readonly string[]) {
    return {
        BlueGreenUpdatePolicy: {
            TrafficRoutingConfiguration: { Type: "ALL_AT_ONCE" as const, WaitIntervalInSeconds: 0 },
            TerminationWaitInSeconds: 0,
        },
        AutoRollbackConfiguration: guardrailAlarmNames.length === 0 ? undefined : { Alarms: guardrailAlarmNames.map((AlarmName) => ({ AlarmName })) },
    };
}

function parseImageByDigest(image: string): { registryId: string; repository: string; digest: string } | undefined {
    const match = /^(\d{12})\.dkr\.ecr[^/]*\/([^@]+)@(sha256:[a-f0-9]{64})$/.exec(image);
    return match === null ? undefined : { registryId: match[1], repository: match[2], digest: match[3] };
}

/** SageMaker answers ValidationException for a missing resource; ECR has its own not-found errors. */
function notFoundAsUndefined(error: unknown): undefined {
    const name = (error as { name?: string }).name;
    if (name === "ValidationException" || name === "ImageNotFoundException" || name === "RepositoryNotFoundException" || name === "ResourceNotFound") {
        return undefined;
    }
    throw error;
}
