/**
 * SageMaker hot standby against emulated AWS (moto on loopback), through the
 * real AWS SDK clients: the alarm trigger's weights switch, `mlops
 * rollback`'s (decideWeightsSwitch + switchWeights on the CLI's own SDK
 * calls) and the EndpointVariantWeights dynamic provider. Every check reads
 * AWS back: DescribeEndpoint, moto's log of the calls it received and of the
 * weights calls it accepted, InvokeEndpoint's routing, the builds and the
 * topic's messages; never a driver's own report alone.
 *
 * The endpoint runs ONE config with two variants, as the component declares
 * it under `mlops:sagemaker.standby: hot` (endpointVariantsFor): primary =
 * version 3, weight 1, 2 instances; standby = version 2, weight 0, 2 (or 1)
 * instances. A rollback 3 -> 2 moves the weight within that config.
 */
import { CodeBuildClient, CreateProjectCommand, ListBuildsForProjectCommand } from "@aws-sdk/client-codebuild";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import {
    CreateEndpointCommand,
    CreateEndpointConfigCommand,
    CreateModelCommand,
    DeleteEndpointCommand,
    DescribeEndpointCommand,
    SageMakerClient,
    UpdateEndpointCommand,
    UpdateEndpointWeightsAndCapacitiesCommand,
    type DesiredWeightAndCapacity,
    type ProductionVariantInstanceType,
} from "@aws-sdk/client-sagemaker";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { desiredVariantWeights, endpointVariantsFor, type EndpointVariantsRecord, type VariantWeight } from "../catalog/endpointVariants";
import {
    describeLiveEndpoint,
    endpointVariantWeightsProvider,
    updateWeightsAndCapacities,
    type EndpointVariantWeightsInputs,
} from "../components/endpointVariantWeights";
import { decideWeightsSwitch, switchWeights, type WeightsApi, type WeightsDecision, type WeightsSwitchTarget } from "../rollback/sagemakerWeightsSwitch";
import {
    motoPythonForTests,
    MOTO_ACCOUNT,
    MOTO_CREDENTIALS,
    MOTO_REGION,
    motoClientOptions,
    startMoto,
    type AwsCall,
    type MotoServer,
} from "../test-aws/motoServer";
import { awsTriggerPorts } from "../trigger/awsTriggerPorts";
import { handleAlarmEvent, type TriggerPorts } from "../trigger/handleAlarmEvent";
import { triggerEnvironment, triggerSettingsFromEnv, type TriggerSettings } from "../trigger/settings";
import { alarmStorm, compositeAlarmEvent } from "./fixtures/alarmEvents";
import { PROD_ALARM as ALARM, PROD_ENDPOINT as ENDPOINT, PROD_RUNNER as RUNNER, prodTriggerSettings } from "./fixtures/triggerSettings";

const motoPython = motoPythonForTests("SageMaker hot standby tests");

/** The one endpoint config under hot standby: both versions map to it (the component's endpointConfigNames). */
const CONFIG = "fraud-detector-3-config-hot1234";
/** A config the stack did not record (someone deployed outside the stack, or a deploy of 4 is under way). */
const OTHER_CONFIG = "fraud-detector-4-config-cccc333";
const MODEL = { "2": "fraud-detector-2-model", "3": "fraud-detector-3-model", "4": "fraud-detector-4-model" } as const;
const IMAGE = {
    "2": `${MOTO_ACCOUNT}.dkr.ecr.${MOTO_REGION}.amazonaws.com/fraud-detector@sha256:${"2".repeat(64)}`,
    "3": `${MOTO_ACCOUNT}.dkr.ecr.${MOTO_REGION}.amazonaws.com/fraud-detector@sha256:${"3".repeat(64)}`,
    "4": `${MOTO_ACCOUNT}.dkr.ecr.${MOTO_REGION}.amazonaws.com/fraud-detector@sha256:${"4".repeat(64)}`,
};
const ENDPOINT_ARN = `arn:aws:sagemaker:${MOTO_REGION}:${MOTO_ACCOUNT}:endpoint/${ENDPOINT}`;
const FUNCTION_NAME = "fraud-detector-trigger-function-abc1234";
/** `mlops:sagemaker.instanceCount`: what the serving variant runs. */
const INSTANCE_COUNT = 2;

/** What the component declares for pinned 3 with 2 as its standby (endpointVariantsFor), with the standby's instance count. */
function hotRecord(standbyInstanceCount: number): EndpointVariantsRecord {
    return endpointVariantsFor({
        settings: { instanceType: "ml.m5.large", instanceCount: INSTANCE_COUNT, variantName: "primary", standbyVariantName: "standby", standbyInstanceCount },
        pinned: "3",
        standby: "2",
        quarantined: [],
        catalog: ["2", "3"],
    }).record;
}

/** One variant as DescribeEndpoint shows it, in the terms the tests compare. */
interface Shown {
    readonly name?: string;
    readonly weight?: number;
    readonly count?: number;
}

const isWeightsCall = (call: AwsCall) => call.service === "sagemaker" && call.operation === "UpdateEndpointWeightsAndCapacities";
const count = (calls: readonly AwsCall[], operation: string) => calls.filter((call) => call.operation === operation).length;
const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe.skipIf(motoPython === undefined)("SageMaker hot standby against moto", () => {
    let server: MotoServer;
    let clients: ReturnType<typeof makeClients>;
    let queueUrl: string;
    /** The record the endpoint's config was seeded from (what the stack's `mlops` output holds). */
    let record: EndpointVariantsRecord;

    beforeAll(async () => {
        server = await startMoto(motoPython as string);
        clients = makeClients(server);
    }, 60_000);
    afterAll(async () => server?.stop());

    /** Forgets everything and seeds the endpoint (its standby on `standbyInstanceCount` instances) and the trigger's resources. */
    async function reseed(standbyInstanceCount: number): Promise<void> {
        await server.reset();
        record = hotRecord(standbyInstanceCount);
        await seedHotEndpoint(clients, record);
        queueUrl = await seedTriggerResources(clients);
    }
    beforeEach(() => reseed(2));

    /** The trigger's settings as its Lambda reads them (through the environment AlarmRollbackTrigger writes), with `overrides` on top. */
    function settings(overrides: Partial<TriggerSettings> = {}): TriggerSettings {
        const written = prodTriggerSettings(IMAGE["2"], {
            pinnedConfigName: CONFIG,
            rollbackConfigName: CONFIG,
            hotStandby: { record, instanceCount: INSTANCE_COUNT },
        });
        return { ...triggerSettingsFromEnv({ ...triggerEnvironment(written), AWS_LAMBDA_FUNCTION_NAME: written.functionName }), ...overrides };
    }

    /** The real ports against moto; `sleep` only counts (the re-checks' waits) unless `sleep` says otherwise. */
    function ports(forSettings: TriggerSettings, sleep?: (ms: number) => Promise<void>): TriggerPorts & { sleeps: number[] } {
        const sleeps: number[] = [];
        return {
            ...awsTriggerPorts(forSettings, motoClientOptions(server)),
            sleeps,
            sleep: async (ms: number) => {
                sleeps.push(ms);
                await sleep?.(ms);
            },
        };
    }

    async function described(): Promise<{ status?: string; config?: string; variants: Shown[] }> {
        const answer = await clients.sagemaker.send(new DescribeEndpointCommand({ EndpointName: ENDPOINT }));
        return {
            status: answer.EndpointStatus,
            config: answer.EndpointConfigName,
            variants: (answer.ProductionVariants ?? []).map((v) => ({ name: v.VariantName, weight: v.CurrentWeight, count: v.CurrentInstanceCount })),
        };
    }
    async function waitUntilInService(withinMs = 10_000): Promise<void> {
        const deadline = Date.now() + withinMs;
        while ((await described()).status !== "InService") {
            if (Date.now() > deadline) throw new Error(`endpoint still not InService after ${withinMs} ms`);
            await realSleep(100);
        }
    }
    /** A weights call made outside the code under test (a person, autoscaling, another run). */
    function outsideWeights(desired: DesiredWeightAndCapacity[]) {
        return clients.sagemaker.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: ENDPOINT, DesiredWeightsAndCapacities: desired }));
    }
    /** The variant that served each of `times` invocations without TargetVariant, and the model it ran. */
    async function servedBy(times: number): Promise<string[]> {
        const served: string[] = [];
        for (let i = 0; i < times; i++) {
            const answer = await clients.runtime.send(
                new InvokeEndpointCommand({ EndpointName: ENDPOINT, Body: new TextEncoder().encode("{}"), ContentType: "application/json" }),
            );
            const body = JSON.parse(new TextDecoder().decode(answer.Body)) as { variant: string; model: string };
            served.push(`${answer.InvokedProductionVariant ?? "(none)"} ${body.model}`);
        }
        return served;
    }
    /** The AWS calls made while `run` ran, as moto received them (the tests' own calls come before and after, never during). */
    async function callsDuring<T>(run: () => Promise<T>): Promise<{ result: T; calls: AwsCall[] }> {
        const before = (await server.calls()).length;
        const result = await run();
        return { result, calls: (await server.calls()).slice(before) };
    }
    async function buildCount(): Promise<number> {
        const { ids } = await clients.codebuild.send(new ListBuildsForProjectCommand({ projectName: RUNNER }));
        return (ids ?? []).length;
    }
    async function notifications(): Promise<{ subject?: string; message: { action?: string; why?: string } }[]> {
        const { Messages } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        return (Messages ?? []).map((m) => {
            const body = JSON.parse(m.Body ?? "{}") as { Subject?: string; Message: string };
            return { subject: body.Subject, message: JSON.parse(body.Message) as { action?: string; why?: string } };
        });
    }
    async function queuedNotificationCount(): Promise<number> {
        const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }));
        return Number(Attributes?.ApproximateNumberOfMessages ?? 0);
    }

    /** All weight to standby, as sent to SageMaker for a rollback to 2 when both variants run 2 (desiredVariantWeights through callFor): weights only, no count changes. */
    const TO_STANDBY = [
        { VariantName: "primary", DesiredWeight: 0 },
        { VariantName: "standby", DesiredWeight: 1 },
    ];
    const ON_PRIMARY: Shown[] = [
        { name: "primary", weight: 1, count: 2 },
        { name: "standby", weight: 0, count: 2 },
    ];
    const ON_STANDBY: Shown[] = [
        { name: "primary", weight: 0, count: 2 },
        { name: "standby", weight: 1, count: 2 },
    ];
    /** After autoscaling scaled primary to 3 meanwhile: the switch leaves that count alone (it sends only counts that must rise). */
    const AUTOSCALED_ON_STANDBY: Shown[] = [
        { name: "primary", weight: 0, count: 3 },
        { name: "standby", weight: 1, count: 2 },
    ];

    describe("the alarm trigger (handleAlarmEvent on awsTriggerPorts)", () => {
        it.each([
            ["a full-size standby (2 instances)", 2],
            ["a standby on 1 instance (the weight moves at reduced capacity: a Lambda does not wait minutes for instances)", 1],
        ])("moves traffic to %s with one UpdateEndpointWeightsAndCapacities, one build and one message", async (_, standbyInstances) => {
            // GIVEN the endpoint on v3 with v2 running as the weight-0 standby, and the trigger's Lambda deployed before the alarm
            if (standbyInstances !== 2) await reseed(standbyInstances);
            expect(await createTriggerFunction(clients)).toBe(FUNCTION_NAME);
            expect((await described()).variants).toEqual([
                { name: "primary", weight: 1, count: 2 },
                { name: "standby", weight: 0, count: standbyInstances },
            ]);
            const s = settings({ functionName: FUNCTION_NAME });
            expect(s.hotStandby).toEqual({ record, instanceCount: 2 });
            await realSleep(5); // the alarm fires after the Lambda's LastModified (millisecond stamps)

            // WHEN the composite alarm goes OK -> ALARM
            const { result: outcome, calls } = await callsDuring(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s)));

            // THEN exactly one weights call, as sent: all weight to standby, its count raised to instanceCount in the same call
            // (the only count sent: the call changes the capacity of one variant)
            expect(await server.weightsCalls()).toEqual([
                {
                    name: ENDPOINT,
                    variants: standbyInstances === 2 ? TO_STANDBY : [TO_STANDBY[0], { ...TO_STANDBY[1], DesiredInstanceCount: 2 }],
                },
            ]);
            // and no new fleet: no config made, no UpdateEndpoint; the handler's SageMaker calls are reads and that one call
            // (a hot standby's variant runs its model already: no DescribeEndpointConfig/DescribeModel/ECR check of the target)
            expect(count(calls, "CreateEndpointConfig")).toBe(0);
            expect(count(calls, "UpdateEndpoint")).toBe(0);
            expect(await server.updateEndpointCalls()).toEqual([]);
            expect(calls.filter((call) => call.service === "sagemaker").map((call) => call.operation)).toEqual([
                "DescribeEndpoint",
                "UpdateEndpointWeightsAndCapacities",
            ]);
            expect(calls.filter((call) => call.service === "ecr")).toEqual([]);
            // (REST operations are logged as method and path: this is GetFunctionConfiguration, the trigger's own LastModified.)
            expect(calls.filter((call) => call.service === "lambda").map((call) => call.operation)).toEqual([
                `GET /2015-03-31/functions/${FUNCTION_NAME}/configuration`,
            ]);
            // DescribeEndpoint: the same config, standby carries all the weight
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: ON_STANDBY });
            // one reconcile build, one message naming the weights call
            expect(outcome.action).toBe("rolled-back");
            expect(outcome.buildId).toMatch(new RegExp(`^${RUNNER}:`));
            expect(await buildCount()).toBe(1);
            const messages = await notifications();
            expect(messages).toHaveLength(1);
            expect(messages[0].subject).toBe("mlops rolled back: fraud-detector (prod) 3 -> 2");
            expect(messages[0].message.action).toBe("rolled-back");
            expect(messages[0].message.why).toContain(`endpoint ${ENDPOINT} moved to version 2 with one UpdateEndpointWeightsAndCapacities call`);
            expect(messages[0].message.why).toBe(outcome.why);
            // and the traffic is on v2: 50 invocations without TargetVariant all land on standby, served by v2's model
            expect(await servedBy(50)).toEqual(Array(50).fill(`standby ${MODEL["2"]}`));
        });

        it("a storm of 50 events for one incident, out of order and all at once, makes one weights call, one build and one message", async () => {
            const s = settings();
            // Every ALARM fires after the endpoint was created (moments ago, in beforeEach), 10 ms apart: none is dropped as
            // older than the endpoint's last change, so they all race for the weights call.
            await realSleep(500);
            const storm = alarmStorm(ALARM, Date.now(), 10);
            expect(storm).toHaveLength(50);

            const { result: outcomes, calls } = await callsDuring(() => Promise.all(storm.map((event) => handleAlarmEvent(event, s, ports(s)))));

            // Read back from AWS, not from the outcomes.
            expect(await server.weightsCalls()).toEqual([{ name: ENDPOINT, variants: TO_STANDBY }]);
            expect(calls.filter(isWeightsCall)).toHaveLength(1); // none was even tried and refused
            expect(count(calls, "CreateEndpointConfig")).toBe(0);
            expect(count(calls, "UpdateEndpoint")).toBe(0);
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: ON_STANDBY });
            expect(await buildCount()).toBe(1);
            expect(await queuedNotificationCount()).toBe(1);
            expect(outcomes.filter((o) => o.action === "rolled-back")).toHaveLength(1);
            expect(outcomes.filter((o) => o.action !== "rolled-back").map((o) => o.action)).toEqual(Array(49).fill("ignored"));
            // The storm did race: deliveries of distinct ALARM events got past triage, dedupe and the staleness checks at once,
            // and were stopped by the cooldown (its conditional claim, or the record it left) or by the weights already moved.
            const stopped = outcomes.filter((o) =>
                /claimed the rollback first|still being reconciled|carries all the weight already|before the last automatic rollback/.test(o.why),
            );
            expect(stopped.length).toBeGreaterThanOrEqual(10);
        });

        it("leaves an Updating endpoint alone after the bounded re-check: no weights call, no cooldown claimed, people told", async () => {
            await server.setEndpointStatus(ENDPOINT, "Updating");
            const s = settings();
            const p = ports(s);

            const { result: outcome, calls } = await callsDuring(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, p));

            expect(outcome).toEqual({
                action: "skipped",
                why: `endpoint ${ENDPOINT} is Updating: SageMaker is already changing it (its guardrails may be rolling back); checked 3 times`,
            });
            expect(p.sleeps).toEqual([20_000, 20_000]);
            expect(count(calls, "DescribeEndpoint")).toBe(3);
            expect(calls.filter(isWeightsCall)).toEqual([]);
            expect(await server.weightsCalls()).toEqual([]);
            expect(await p.lastRollback()).toBeUndefined();
            expect(await buildCount()).toBe(0);
            expect((await notifications()).map((m) => m.subject)).toEqual(["mlops rollback skipped: fraud-detector (prod) 3 -> 2"]);
            await server.setEndpointStatus(ENDPOINT, "InService");
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: ON_PRIMARY });
        });

        /**
         * Ports whose `updateWeights` runs `meanwhile` right before the handler's first call: SageMaker becomes busy
         * between the handler's check and its call (before its first `races` attempts). `sleep` (ms of the handler's
         * re-check) maps to a real wait.
         */
        function racedPorts(s: TriggerSettings, meanwhile: () => Promise<void>, sleep?: (ms: number) => Promise<void>, races = 1) {
            const p = ports(s, sleep);
            const update = p.updateWeights.bind(p);
            const attempts: string[] = [];
            p.updateWeights = async (endpointName: string, variants: readonly VariantWeight[]) => {
                if (attempts.length < races) await meanwhile();
                try {
                    await update(endpointName, variants);
                    attempts.push("accepted");
                } catch (error) {
                    attempts.push(`refused: ${(error as Error).message}`);
                    throw error;
                }
            };
            return Object.assign(p, { attempts });
        }
        /** Autoscaling scales primary out between the handler's check and its call: the endpoint is Updating for `seconds`. */
        const autoscalingMeanwhile = (seconds: number) => async () => {
            await server.setUpdateDelay(seconds);
            await outsideWeights([{ VariantName: "primary", DesiredInstanceCount: 3 }]);
        };
        const REFUSED = `refused: Cannot update in-progress endpoint "${ENDPOINT_ARN}".`;
        /** The handler's 20 s re-check interval as a real 1 s: a 1 s update is over by the last of its 3 checks. */
        const scaledSleep = (ms: number) => realSleep(ms / 20);

        it("a race: the endpoint becomes busy between the check and the call, and stays busy: one refused call, no second, the claim released", async () => {
            const s = settings();
            // The re-check's sleeps only count: every re-check still sees Updating (the 1 s update outlasts them).
            const p = racedPorts(s, autoscalingMeanwhile(1));

            const { result: outcome, calls } = await callsDuring(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, p));

            // The handler tried once, was refused, re-checked (bounded) and gave up without a second call.
            expect(p.attempts).toEqual([REFUSED]);
            expect(p.sleeps).toEqual([20_000, 20_000, 20_000]); // a turn after the refusal, then the bounded re-check's two waits
            expect(outcome).toEqual({
                action: "skipped",
                why: `UpdateEndpointWeightsAndCapacities to version 2 failed (Cannot update in-progress endpoint "${ENDPOINT_ARN}".), and endpoint ${ENDPOINT} was still Updating after 3 checks; the endpoint still serves 3`,
            });
            // AWS: the only accepted weights call is autoscaling's; the handler's one attempt was refused.
            expect(await server.weightsCalls()).toEqual([{ name: ENDPOINT, variants: [{ VariantName: "primary", DesiredInstanceCount: 3 }] }]);
            expect(calls.filter(isWeightsCall)).toHaveLength(2);
            expect(await buildCount()).toBe(0);
            expect((await notifications()).map((m) => [m.subject, m.message.action])).toEqual([
                ["mlops rollback skipped: fraud-detector (prod) 3 -> 2", "skipped"],
            ]);
            // The cooldown claim is released: the state table holds no rollback ...
            expect(await p.lastRollback()).toBeUndefined();
            await waitUntilInService();
            expect(await described()).toEqual({
                status: "InService",
                config: CONFIG,
                variants: [
                    { name: "primary", weight: 1, count: 3 },
                    { name: "standby", weight: 0, count: 2 },
                ],
            });
            // ... so the incident's next alarm, once SageMaker is done, rolls back (one weights call of its own).
            await server.setUpdateDelay(0);
            const next = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s));
            expect(next.action).toBe("rolled-back");
            expect((await server.weightsCalls()).slice(1)).toEqual([{ name: ENDPOINT, variants: TO_STANDBY }]);
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: AUTOSCALED_ON_STANDBY });
        });

        it("a race: busy between the check and the call, free after the re-check: one retry, exactly one accepted weights call from the handler", async () => {
            const s = settings();
            const p = racedPorts(s, autoscalingMeanwhile(1), scaledSleep);

            const { result: outcome, calls } = await callsDuring(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, p));

            expect(p.attempts).toEqual([REFUSED, "accepted"]);
            expect(outcome.action).toBe("rolled-back");
            // AWS: autoscaling's call, then the handler's one accepted call; three received (the refused one included).
            expect(await server.weightsCalls()).toEqual([
                { name: ENDPOINT, variants: [{ VariantName: "primary", DesiredInstanceCount: 3 }] },
                { name: ENDPOINT, variants: TO_STANDBY },
            ]);
            expect(calls.filter(isWeightsCall)).toHaveLength(3);
            expect(count(calls, "UpdateEndpoint")).toBe(0);
            expect(await buildCount()).toBe(1);
            expect(await queuedNotificationCount()).toBe(1);
            await waitUntilInService();
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: AUTOSCALED_ON_STANDBY });
            expect(new Set(await servedBy(20))).toEqual(new Set([`standby ${MODEL["2"]}`]));
        });

        it("a race twice: refused, free on the re-check, refused again: no third attempt, reported, the claim released", async () => {
            const s = settings();
            // Autoscaling gets in before each of the handler's two attempts.
            const p = racedPorts(s, autoscalingMeanwhile(1), scaledSleep, 2);

            const { result: outcome, calls } = await callsDuring(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, p));

            expect(p.attempts).toEqual([REFUSED, REFUSED]);
            expect(outcome).toEqual({
                action: "skipped",
                why: `UpdateEndpointWeightsAndCapacities to version 2 failed (Cannot update in-progress endpoint "${ENDPOINT_ARN}".); the endpoint still serves 3`,
            });
            const autoscaling = { name: ENDPOINT, variants: [{ VariantName: "primary", DesiredInstanceCount: 3 }] };
            expect(await server.weightsCalls()).toEqual([autoscaling, autoscaling]);
            expect(calls.filter(isWeightsCall)).toHaveLength(4);
            expect(await p.lastRollback()).toBeUndefined();
            expect(await buildCount()).toBe(0);
            expect((await notifications()).map((m) => m.subject)).toEqual(["mlops rollback skipped: fraud-detector (prod) 3 -> 2"]);
            await waitUntilInService();
            expect((await described()).variants).toEqual([
                { name: "primary", weight: 1, count: 3 },
                { name: "standby", weight: 0, count: 2 },
            ]);
        });

        // Whatever made the endpoint busy may have changed what the decision was made on: here a deploy of version 4
        // (UpdateEndpoint to another config whose variants have the same names) lands between the check and the call.
        // The retry decides again on the re-read endpoint and fails closed, rather than moving the weight within the new
        // config to the version it runs as its standby.
        it("a race: an UpdateEndpoint to another config lands between the check and the call: the retry must not move weight on that config", async () => {
            await seedOtherConfig(clients);
            const s = settings();
            const p = racedPorts(
                s,
                async () => {
                    await server.setUpdateDelay(1);
                    await clients.sagemaker.send(new UpdateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: OTHER_CONFIG }));
                },
                scaledSleep,
            );

            const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, p);

            await waitUntilInService();
            expect((await described()).config).toBe(OTHER_CONFIG);
            // What should hold: no weights call from the handler on a config the stack did not record, and no "rolled back".
            expect(await server.weightsCalls()).toEqual([]);
            expect(outcome.action).not.toBe("rolled-back");
        });

        it("ignores an alarm when the weight is on the standby already (another run or trigger moved it): no call, no build, nobody told", async () => {
            await outsideWeights(TO_STANDBY);
            const before = await server.weightsCalls();
            const s = settings();

            const { result: outcome, calls } = await callsDuring(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s)));

            expect(outcome).toEqual({ action: "ignored", why: `endpoint ${ENDPOINT}: variant standby (version 2) carries all the weight already` });
            expect(calls.filter(isWeightsCall)).toEqual([]);
            expect(await server.weightsCalls()).toEqual(before);
            expect(await buildCount()).toBe(0);
            expect(await queuedNotificationCount()).toBe(0);
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: ON_STANDBY });
        });

        it("fails closed when the weight was moved outside the stack (half on each variant): no call, no build, people told", async () => {
            await outsideWeights([
                { VariantName: "primary", DesiredWeight: 0.5 },
                { VariantName: "standby", DesiredWeight: 0.5 },
            ]);
            const s = settings();

            const { result: outcome, calls } = await callsDuring(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s)));

            expect(outcome).toEqual({
                action: "failed-closed",
                why: `endpoint ${ENDPOINT}: the weight is on primary and standby, not on variant primary of version 3 alone: someone moved it outside the stack; not touching it`,
            });
            expect(calls.filter(isWeightsCall)).toEqual([]);
            expect(await server.weightsCalls()).toHaveLength(1); // the outside one
            expect(await buildCount()).toBe(0);
            expect((await notifications()).map((m) => [m.subject, m.message.action])).toEqual([
                ["mlops rollback refused: fraud-detector (prod) 3 -> 2", "failed-closed"],
            ]);
            expect((await described()).variants).toEqual([
                { name: "primary", weight: 0.5, count: 2 },
                { name: "standby", weight: 0.5, count: 2 },
            ]);
        });

        it("fails closed when the endpoint runs another config than the stack recorded: no call, no build, people told", async () => {
            await seedOtherConfig(clients);
            await clients.sagemaker.send(new UpdateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: OTHER_CONFIG }));
            const s = settings();

            const { result: outcome, calls } = await callsDuring(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s)));

            expect(outcome.action).toBe("failed-closed");
            expect(outcome.why).toBe(
                `endpoint ${ENDPOINT}: the endpoint runs config ${OTHER_CONFIG}, not ${CONFIG} that the stack recorded: it was changed outside the stack, or SageMaker rolled an update back; not touching it`,
            );
            expect(calls.filter(isWeightsCall)).toEqual([]);
            expect(count(calls, "UpdateEndpoint")).toBe(0);
            expect(await server.weightsCalls()).toEqual([]);
            expect(await server.updateEndpointCalls()).toEqual([{ name: ENDPOINT, config: OTHER_CONFIG }]); // the outside one
            expect(await buildCount()).toBe(0);
            expect((await notifications()).map((m) => m.subject)).toEqual(["mlops rollback refused: fraud-detector (prod) 3 -> 2"]);
        });
    });

    describe("mlops rollback's AWS calls (decideWeightsSwitch on describeLiveEndpoint, then switchWeights)", () => {
        // The CLI's real WeightsApi (cli/main.ts, sagemakerWeights) with the loopback endpoint; credentials from the environment.
        const savedEnv: Record<string, string | undefined> = {};
        beforeAll(() => setEnv(savedEnv, { AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey }));
        afterAll(() => restoreEnv(savedEnv));

        /** The real api, recording what it saw and did in order: `describe:<status>` and `update` (accepted or refused). */
        function cliApi(): WeightsApi & { readonly log: string[] } {
            const log: string[] = [];
            return {
                log,
                describe: async (endpointName) => {
                    const live = await describeLiveEndpoint(endpointName, MOTO_REGION, server.endpoint);
                    log.push(`describe:${live.status}`);
                    return live;
                },
                update: async (endpointName, variants) => {
                    try {
                        await updateWeightsAndCapacities(endpointName, variants, MOTO_REGION, server.endpoint);
                        log.push("update:accepted");
                    } catch (error) {
                        log.push("update:refused");
                        throw error;
                    }
                },
            };
        }
        const target = (): WeightsSwitchTarget => ({ configName: CONFIG, record, from: "3", to: "2", instanceCount: INSTANCE_COUNT });
        async function decide(api: WeightsApi): Promise<WeightsDecision> {
            return decideWeightsSwitch(await api.describe(ENDPOINT), target());
        }
        function asSwitch(decision: WeightsDecision): Extract<WeightsDecision, { kind: "switch" }> {
            if (decision.kind !== "switch") throw new Error(`expected a switch, got ${decision.kind}: ${decision.why}`);
            return decision;
        }

        it("a full-size standby: one weights call, confirmed on DescribeEndpoint; no new config, no UpdateEndpoint; invocations on standby", async () => {
            const api = cliApi();
            const { result, calls } = await callsDuring(async () => {
                expect(asSwitch(await decide(api)).calls).toHaveLength(1);
                return switchWeights(api, ENDPOINT, target(), { sleep: () => Promise.resolve() });
            });

            expect(result).toMatchObject({ calls: 1, confirmed: true, live: { status: "InService", configName: CONFIG } });
            expect(await server.weightsCalls()).toEqual([{ name: ENDPOINT, variants: TO_STANDBY }]);
            expect(calls.filter(isWeightsCall)).toHaveLength(1);
            expect(count(calls, "CreateEndpointConfig")).toBe(0);
            expect(count(calls, "UpdateEndpoint")).toBe(0);
            expect(calls.every((call) => call.service === "sagemaker")).toBe(true);
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: ON_STANDBY });
            expect(await servedBy(50)).toEqual(Array(50).fill(`standby ${MODEL["2"]}`));
            // Run again (a second `mlops rollback`): already switched, nothing to write.
            expect((await decide(api)).kind).toBe("already-switched");
        });

        it("a standby on 1 instance: two calls in order (its count raised first, then the weights), confirmed; standby 2 / primary 2", async () => {
            await reseed(1);
            const api = cliApi();
            asSwitch(await decide(api));

            const result = await switchWeights(api, ENDPOINT, target(), { sleep: () => Promise.resolve() });

            expect(result).toMatchObject({ calls: 2, confirmed: true });
            expect(await server.weightsCalls()).toEqual([
                { name: ENDPOINT, variants: [{ VariantName: "standby", DesiredWeight: 0, DesiredInstanceCount: 2 }] },
                { name: ENDPOINT, variants: TO_STANDBY },
            ]);
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: ON_STANDBY });
            // The decision above, then before each call a fresh reading and decision, and the reading that confirms.
            expect(api.log).toEqual([
                "describe:InService",
                "describe:InService",
                "update:accepted",
                "describe:InService",
                "update:accepted",
                "describe:InService",
            ]);
        });

        it("with a 1 s update delay: waits until SageMaker is done before each call, and never sends one while the endpoint is Updating", async () => {
            await reseed(1);
            await server.setUpdateDelay(1);
            const api = cliApi();
            asSwitch(await decide(api));
            const waits: string[] = [];
            const started = Date.now();

            const { result, calls } = await callsDuring(() =>
                switchWeights(api, ENDPOINT, target(), { intervalSeconds: 0.2, timeoutSeconds: 10, onWait: (what) => waits.push(what) }),
            );

            expect(result).toMatchObject({ calls: 2, confirmed: true });
            // Both calls accepted, none refused: none was sent while SageMaker was applying the other.
            expect(calls.filter(isWeightsCall)).toHaveLength(2);
            expect(await server.weightsCalls()).toHaveLength(2);
            expect(api.log.filter((entry) => entry.startsWith("update"))).toEqual(["update:accepted", "update:accepted"]);
            // Each call came after a DescribeEndpoint that showed InService.
            for (const [i, entry] of api.log.entries()) if (entry.startsWith("update")) expect(api.log[i - 1]).toBe("describe:InService");
            expect(waits.length).toBeGreaterThan(0);
            expect(waits.every((what) => what.endsWith("the endpoint is Updating"))).toBe(true);
            expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 1000 - 100);
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: ON_STANDBY });
        }, 30_000);

        it("the endpoint becomes busy right before the call: the refusal is waited out and the call made again only once it is InService", async () => {
            await server.setUpdateDelay(1);
            const api = cliApi();
            asSwitch(await decide(api));
            const update = api.update.bind(api);
            let raced = false;
            const racedApi: WeightsApi = {
                describe: (name) => api.describe(name),
                update: async (name, variants) => {
                    if (!raced) {
                        raced = true;
                        await outsideWeights([{ VariantName: "primary", DesiredInstanceCount: 3 }]);
                    }
                    await update(name, variants);
                },
            };

            const { result, calls } = await callsDuring(() => switchWeights(racedApi, ENDPOINT, target(), { intervalSeconds: 0.2, timeoutSeconds: 10 }));

            expect(result).toMatchObject({ calls: 1, confirmed: true });
            const updates = api.log.flatMap((entry, i) => (entry.startsWith("update") ? [[entry, api.log[i - 1]]] : []));
            expect(updates).toEqual([
                ["update:refused", "describe:InService"],
                ["update:accepted", "describe:InService"],
            ]);
            expect(calls.filter(isWeightsCall)).toHaveLength(3); // autoscaling's, the refused one, the retry
            expect(await server.weightsCalls()).toEqual([
                { name: ENDPOINT, variants: [{ VariantName: "primary", DesiredInstanceCount: 3 }] },
                { name: ENDPOINT, variants: TO_STANDBY },
            ]);
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: AUTOSCALED_ON_STANDBY });
        }, 30_000);
        // After a refusal the call is decided again on what the settled endpoint shows: a deploy of 4 that lands
        // meanwhile (another config, same variant names) must not get its standby (3, the version rolled back) the weight.
        it("the endpoint moves to another config between the decision and the call: the retry must not move weight on that config", async () => {
            await seedOtherConfig(clients);
            await server.setUpdateDelay(1);
            const api = cliApi();
            asSwitch(await decide(api));
            let raced = false;
            const racedApi: WeightsApi = {
                describe: (name) => api.describe(name),
                update: async (name, variants) => {
                    if (!raced) {
                        raced = true;
                        await clients.sagemaker.send(new UpdateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: OTHER_CONFIG }));
                    }
                    await api.update(name, variants);
                },
            };

            const result = await switchWeights(racedApi, ENDPOINT, target(), { intervalSeconds: 0.2, timeoutSeconds: 10 }).catch(() => undefined);

            await waitUntilInService();
            expect((await described()).config).toBe(OTHER_CONFIG);
            // What should hold: no weights call on a config the decision was not made on, and no confirmation.
            expect(await server.weightsCalls()).toEqual([]);
            expect(result?.confirmed ?? false).toBe(false);
        }, 30_000);
    });

    describe("the EndpointVariantWeights dynamic provider (its own SDK client, pointed at moto by AWS_ENDPOINT_URL_SAGEMAKER)", () => {
        const savedEnv: Record<string, string | undefined> = {};
        beforeEach(async () => {
            // Its settle loop polls every 15 s while the endpoint is busy: keep moto's updates instant.
            await server.setUpdateDelay(0);
            setEnv(savedEnv, {
                AWS_ENDPOINT_URL_SAGEMAKER: server.endpoint,
                AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
                AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
                AWS_REGION: MOTO_REGION,
            });
        });
        afterEach(() => restoreEnv(savedEnv));

        const provider = endpointVariantWeightsProvider as Required<typeof endpointVariantWeightsProvider>;
        const inputs = (variants: VariantWeight[], endpointName = ENDPOINT): EndpointVariantWeightsInputs => ({ endpointName, region: MOTO_REGION, variants });
        /** What the component declares with 3 pinned (desiredVariantWeights) and with 2 pinned after a rollback. */
        const serving3 = () => desiredVariantWeights(record, "3", INSTANCE_COUNT);
        const serving2 = () => desiredVariantWeights(record, "2", INSTANCE_COUNT);

        it("the installed SDK honours AWS_ENDPOINT_URL_SAGEMAKER (else these tests would reach AWS, not moto)", async () => {
            const { calls } = await callsDuring(() => describeLiveEndpoint(ENDPOINT, undefined));
            expect(calls).toEqual([{ service: "sagemaker", operation: "DescribeEndpoint" }]);
        });

        it("read shows the live weights, and a weights call made outside the stack as drift", async () => {
            expect(serving3()).toEqual([
                { variantName: "primary", weight: 1, instanceCount: 2 },
                { variantName: "standby", weight: 0, instanceCount: 2 },
            ]);
            expect(await provider.read(ENDPOINT, inputs(serving3()))).toEqual({ id: ENDPOINT, props: inputs(serving3()) });

            await outsideWeights([
                { VariantName: "primary", DesiredWeight: 0.5 },
                { VariantName: "standby", DesiredWeight: 0.5, DesiredInstanceCount: 3 },
            ]);

            const drifted = await provider.read(ENDPOINT, inputs(serving3()));
            expect(drifted.props?.variants).toEqual([
                { variantName: "primary", weight: 0.5, instanceCount: 2 },
                { variantName: "standby", weight: 0.5, instanceCount: 3 },
            ]);
            // The engine compares what read returned with the inputs: diff sees the drift.
            expect((await provider.diff(ENDPOINT, drifted.props as EndpointVariantWeightsInputs, inputs(serving3()))).changes).toBe(true);
            // Without recorded props (an import), it reads every live variant.
            expect((await provider.read(ENDPOINT)).props).toEqual({
                endpointName: ENDPOINT,
                region: undefined,
                variants: [
                    { variantName: "primary", weight: 0.5, instanceCount: 2 },
                    { variantName: "standby", weight: 0.5, instanceCount: 3 },
                ],
            });
        });

        it("update with the live values (after the trigger or mlops rollback moved them) makes no call", async () => {
            await outsideWeights(TO_STANDBY);
            const before = await server.weightsCalls();

            const { result, calls } = await callsDuring(() => provider.update(ENDPOINT, inputs(serving3()), inputs(serving2())));

            expect(result).toEqual({ outs: inputs(serving2()) });
            expect(calls.filter(isWeightsCall)).toEqual([]);
            expect(calls.every((call) => call.operation === "DescribeEndpoint")).toBe(true);
            expect(await server.weightsCalls()).toEqual(before);
        });

        it("update with other values makes exactly one call and returns the live values", async () => {
            const { result, calls } = await callsDuring(() => provider.update(ENDPOINT, inputs(serving3()), inputs(serving2())));

            expect(calls.filter(isWeightsCall)).toHaveLength(1);
            expect(await server.weightsCalls()).toEqual([{ name: ENDPOINT, variants: TO_STANDBY }]);
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: ON_STANDBY });
            expect(result).toEqual({ outs: inputs(serving2()) });
            // Back again (a deploy of 3 after the rollback): one call back.
            expect((await provider.update(ENDPOINT, inputs(serving2()), inputs(serving3()))).outs).toEqual(inputs(serving3()));
            expect(await server.weightsCalls()).toHaveLength(2);
            expect(await described()).toEqual({ status: "InService", config: CONFIG, variants: ON_PRIMARY });
        });

        it("create on an endpoint already at the values makes no call", async () => {
            const { result, calls } = await callsDuring(() => provider.create(inputs(serving3())));
            expect(result).toEqual({ id: ENDPOINT, outs: inputs(serving3()) });
            expect(calls.filter(isWeightsCall)).toEqual([]);
        });

        it("diff reports a change only when the variants differ (in any order) or the endpoint does", async () => {
            const same = await provider.diff(ENDPOINT, inputs(serving3()), inputs([...serving3()].reverse()));
            expect(same.changes).toBe(false);
            expect((await provider.diff(ENDPOINT, inputs(serving3()), inputs(serving2()))).changes).toBe(true);
            const recounted = serving3().map((v) => (v.variantName === "standby" ? { ...v, instanceCount: 1 } : v));
            expect((await provider.diff(ENDPOINT, inputs(serving3()), inputs(recounted))).changes).toBe(true);
            expect((await provider.diff(ENDPOINT, inputs(serving3()), inputs(serving3().slice(0, 1)))).changes).toBe(true);
            expect((await provider.diff(ENDPOINT, inputs(serving3()), inputs(serving3(), "another-endpoint"))).changes).toBe(true);
            // A diff of different wanted weights asks AWS nothing; of equal ones it reads the endpoint (an UpdateEndpoint may have reset it), never writes.
            expect((await callsDuring(() => provider.diff(ENDPOINT, inputs(serving3()), inputs(serving2())))).calls).toEqual([]);
            expect((await callsDuring(() => provider.diff(ENDPOINT, inputs(serving3()), inputs(serving3())))).calls.map((c) => c.operation)).toEqual([
                "DescribeEndpoint",
            ]);
        });

        // A new endpointName (the Endpoint was replaced) replaces the resource: its id is the endpoint's name, which read
        // describes; updated in place it would keep the old name, and refresh would fail once that endpoint is gone.
        it("after the Endpoint is replaced (a new name), the resource reads the new endpoint (refresh)", async () => {
            const NEW_ENDPOINT = "fraud-detector-endpoint-5d6e7f8";
            await clients.sagemaker.send(new CreateEndpointCommand({ EndpointName: NEW_ENDPOINT, EndpointConfigName: CONFIG }));
            const created = await provider.create(inputs(serving3()));
            const olds = created.outs as EndpointVariantWeightsInputs;
            const news = inputs(serving3(), NEW_ENDPOINT);

            // What the engine does with the diff: replace (create anew, new id) or update in place (same id).
            const diff = await provider.diff(created.id, olds, news);
            expect(diff.changes).toBe(true);
            const id = (diff.replaces ?? []).length > 0 ? (await provider.create(news)).id : (await provider.update(created.id, olds, news), created.id);
            await clients.sagemaker.send(new DeleteEndpointCommand({ EndpointName: ENDPOINT }));

            // What should hold: refresh reads the endpoint the resource now stands for.
            await expect(provider.read(id, news)).resolves.toMatchObject({ id: NEW_ENDPOINT, props: news });
        });
    });
});

function setEnv(saved: Record<string, string | undefined>, values: Record<string, string>): void {
    for (const [key, value] of Object.entries(values)) {
        saved[key] = process.env[key];
        process.env[key] = value;
    }
}

function restoreEnv(saved: Record<string, string | undefined>): void {
    for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
        delete saved[key];
    }
}

function makeClients(server: MotoServer) {
    const options = motoClientOptions(server);
    return {
        sagemaker: new SageMakerClient(options),
        runtime: new SageMakerRuntimeClient(options),
        dynamodb: new DynamoDBClient(options),
        codebuild: new CodeBuildClient(options),
        sns: new SNSClient(options),
        sqs: new SQSClient(options),
        iam: new IAMClient(options),
        lambda: new LambdaClient(options),
    };
}

async function createModel(clients: ReturnType<typeof makeClients>, version: keyof typeof MODEL): Promise<void> {
    await clients.sagemaker.send(
        new CreateModelCommand({
            ModelName: MODEL[version],
            ExecutionRoleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/sagemaker`,
            PrimaryContainer: { Image: IMAGE[version], ModelDataUrl: `s3://models/fraud-detector/${version}/model.tar.gz` },
        }),
    );
}

/** Models for versions 2 and 3, ONE endpoint config with the record's variants (as the component declares it), the endpoint on it. */
async function seedHotEndpoint(clients: ReturnType<typeof makeClients>, record: EndpointVariantsRecord): Promise<void> {
    for (const version of ["2", "3"] as const) await createModel(clients, version);
    await clients.sagemaker.send(
        new CreateEndpointConfigCommand({
            EndpointConfigName: CONFIG,
            ProductionVariants: record.variants.map((variant) => ({
                VariantName: variant.variantName,
                ModelName: MODEL[variant.version as "2" | "3"],
                InstanceType: record.instanceType as ProductionVariantInstanceType,
                InitialInstanceCount: variant.initialInstanceCount,
                InitialVariantWeight: variant.initialWeight,
            })),
        }),
    );
    await clients.sagemaker.send(new CreateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: CONFIG }));
}

/** A config the stack never recorded, with the same variant names: version 4 serving, 3 as its standby (a deploy of 4). */
async function seedOtherConfig(clients: ReturnType<typeof makeClients>): Promise<void> {
    await createModel(clients, "4");
    await clients.sagemaker.send(
        new CreateEndpointConfigCommand({
            EndpointConfigName: OTHER_CONFIG,
            ProductionVariants: [
                { VariantName: "primary", ModelName: MODEL["4"], InstanceType: "ml.m5.large", InitialInstanceCount: 2, InitialVariantWeight: 1 },
                { VariantName: "standby", ModelName: MODEL["3"], InstanceType: "ml.m5.large", InitialInstanceCount: 2, InitialVariantWeight: 0 },
            ],
        }),
    );
}

/** The state table, runner project and topic the trigger component creates, and an SQS subscriber to read the topic. */
async function seedTriggerResources(clients: ReturnType<typeof makeClients>): Promise<string> {
    await clients.dynamodb.send(
        new CreateTableCommand({
            TableName: "mlops-trigger-state",
            BillingMode: "PAY_PER_REQUEST",
            AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
            KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
        }),
    );
    await clients.codebuild.send(
        new CreateProjectCommand({
            name: RUNNER,
            source: { type: "S3", location: "infra-source/fraud-detector.zip" },
            artifacts: { type: "NO_ARTIFACTS" },
            environment: { type: "LINUX_CONTAINER", image: "aws/codebuild/standard:7.0", computeType: "BUILD_GENERAL1_SMALL" },
            serviceRole: `arn:aws:iam::${MOTO_ACCOUNT}:role/runner`,
        }),
    );
    const { TopicArn } = await clients.sns.send(new CreateTopicCommand({ Name: "fraud-detector-prod-alarms" }));
    const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: "notifications" }));
    const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
    await clients.sns.send(new SubscribeCommand({ TopicArn, Protocol: "sqs", Endpoint: Attributes?.QueueArn }));
    return QueueUrl!;
}

/** The trigger's Lambda, deployed now (its LastModified is when the stack last wrote the trigger's environment). */
async function createTriggerFunction(clients: ReturnType<typeof makeClients>): Promise<string | undefined> {
    const { Role } = await clients.iam.send(new CreateRoleCommand({ RoleName: "trigger", AssumeRolePolicyDocument: "{}" }));
    const { FunctionName } = await clients.lambda.send(
        new CreateFunctionCommand({
            FunctionName: FUNCTION_NAME,
            Runtime: "nodejs24.x",
            Role: Role?.Arn,
            Handler: "index.handler",
            Code: { ZipFile: new Uint8Array([80, 75, 5, 6, ...new Array<number>(18).fill(0)]) },
        }),
    );
    return FunctionName;
}
