/**
 * The alarm-triggered rollback handler against emulated AWS (moto on
 * loopback), through the real AWS SDK clients; every check reads AWS back
 * (DescribeEndpoint, ListBuildsForProject, the SNS topic's SQS subscriber),
 * never the handler's own report alone.
 */
import { CodeBuildClient, CreateProjectCommand, ListBuildsForProjectCommand } from "@aws-sdk/client-codebuild";
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { BatchDeleteImageCommand, CreateRepositoryCommand, ECRClient, PutImageCommand } from "@aws-sdk/client-ecr";
import {
    CreateEndpointCommand,
    CreateEndpointConfigCommand,
    CreateModelCommand,
    DeleteEndpointConfigCommand,
    DescribeEndpointCommand,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bundledTriggerHandler } from "../components/alarmRollbackTrigger";
import { motoPythonForTests, MOTO_ACCOUNT, MOTO_REGION, motoClientOptions, startMoto, type AwsCall, type MotoServer } from "../test-aws/motoServer";
import { awsTriggerPorts } from "../trigger/awsTriggerPorts";
import { handleAlarmEvent, handleTriggerEvent, type TriggerPorts } from "../trigger/handleAlarmEvent";
import { triggerEnvironment, type TriggerSettings } from "../trigger/settings";
import { alarmStorm, buildStateChangeEvent, compositeAlarmEvent } from "./fixtures/alarmEvents";
import { PROD_ALARM as ALARM, PROD_CONFIG as CONFIG, PROD_ENDPOINT as ENDPOINT, prodTriggerSettings } from "./fixtures/triggerSettings";
import { recordFault } from "../test-e2e/faultSummary";

const motoPython = motoPythonForTests("trigger handler tests");

const REPOSITORY = "fraud-detector";
/**
 * How to run the trigger's Lambda entry point in a process of its own: Node
 * with tsx as its loader, one process (the tsx command would run the script
 * in a child of its own, which a SIGKILL of the command leaves running).
 */
const RUN_TRIGGER_HANDLER = ["--import", "tsx", path.join(__dirname, "fixtures", "runTriggerHandler.ts")];

describe.skipIf(motoPython === undefined)("alarm-triggered rollback against moto", () => {
    let server: MotoServer;
    let clients: ReturnType<typeof makeClients>;
    let images: Record<"2" | "3", string>;
    let queueUrl: string;

    beforeAll(async () => {
        server = await startMoto(motoPython as string);
        clients = makeClients(server);
    }, 60_000);
    afterAll(async () => server?.stop());

    beforeEach(async () => {
        await server.reset();
        images = await seedEndpointOnVersion3(clients);
        queueUrl = await seedTriggerResources(clients);
    });

    const settings = (overrides: Partial<TriggerSettings> = {}): TriggerSettings => prodTriggerSettings(images["2"], overrides);

    /** The real ports against moto; `sleep` only counts (the layer below: time). */
    function ports(forSettings: TriggerSettings): TriggerPorts & { sleeps: number[] } {
        const sleeps: number[] = [];
        return { ...awsTriggerPorts(forSettings, motoClientOptions(server)), sleeps, sleep: (ms: number) => Promise.resolve(void sleeps.push(ms)) };
    }

    async function servedConfig(): Promise<string | undefined> {
        return (await clients.sagemaker.send(new DescribeEndpointCommand({ EndpointName: ENDPOINT }))).EndpointConfigName;
    }
    async function buildCount(): Promise<number> {
        const { ids } = await clients.codebuild.send(new ListBuildsForProjectCommand({ projectName: "fraud-detector-prod-rollback-runner" }));
        return (ids ?? []).length;
    }
    async function notifications(): Promise<{ Subject?: string; Message: string }[]> {
        const { Messages } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        return (Messages ?? []).map((m) => JSON.parse(m.Body ?? "{}") as { Subject?: string; Message: string });
    }
    async function queuedNotificationCount(): Promise<number> {
        const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }));
        return Number(Attributes?.ApproximateNumberOfMessages ?? 0);
    }

    it("restores v2's config, starts one reconcile build and publishes one message for a fresh ALARM", async () => {
        // GIVEN the endpoint on v3 with v2's config warm
        expect(await servedConfig()).toBe(CONFIG["3"]);
        const s = settings();
        // WHEN the composite alarm goes OK -> ALARM
        const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s));
        // THEN
        expect(outcome.action).toBe("rolled-back");
        expect(await servedConfig()).toBe(CONFIG["2"]);
        const described = await clients.sagemaker.send(new DescribeEndpointCommand({ EndpointName: ENDPOINT }));
        expect(described.EndpointStatus).toBe("InService");
        // All at once, with the guardrail alarm set unchanged (a different set would replace the endpoint on the next `pulumi up`).
        expect(described.LastDeploymentConfig).toEqual({
            BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: "ALL_AT_ONCE", WaitIntervalInSeconds: 0 }, TerminationWaitInSeconds: 0 },
            AutoRollbackConfiguration: { Alarms: [{ AlarmName: "fraud-detector-prod-5xx-rate" }, { AlarmName: "fraud-detector-prod-latency-p99" }] },
        });
        expect(await buildCount()).toBe(1);
        expect(outcome.buildId).toMatch(/^fraud-detector-prod-rollback-runner:/);
        const messages = await notifications();
        expect(messages).toHaveLength(1);
        expect(messages[0].Subject).toBe("mlops rolled back: fraud-detector (prod) 3 -> 2");
        expect(JSON.parse(messages[0].Message)).toMatchObject({ action: "rolled-back", from: "3", to: "2", alarm: ALARM });
    });

    it("changes nothing when the same event is delivered again", async () => {
        const s = settings();
        const event = compositeAlarmEvent({ alarmName: ALARM });
        await handleAlarmEvent(event, s, ports(s));
        await notifications();

        const again = await handleAlarmEvent(event, s, ports(s));

        expect(again).toEqual({ action: "ignored", why: `event ${event.id} was handled before (EventBridge redelivery)` });
        expect(await servedConfig()).toBe(CONFIG["2"]);
        expect(await buildCount()).toBe(1);
        expect(await queuedNotificationCount()).toBe(0);
    });

    it.each([
        ["an OK event", { state: "OK" as const, previousState: "ALARM" as const }, "alarm state is OK, not ALARM"],
        ["an ALARM that was already in ALARM", { previousState: "ALARM" as const }, "not a new incident"],
        ["a stale event (fired 2 hours ago)", { firedAt: new Date(Date.now() - 2 * 3600_000) }, "stale: the alarm fired"],
        ["another alarm's event", { alarmName: "someone-elses-alarm" }, "is not this stack's alarm"],
    ])("ignores %s and changes nothing", async (_, options, why) => {
        const s = settings();
        const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM, ...options }), s, ports(s));

        expect(outcome.action).toBe("ignored");
        expect(outcome.why).toContain(why);
        expect(await servedConfig()).toBe(CONFIG["3"]);
        expect(await buildCount()).toBe(0);
        expect(await queuedNotificationCount()).toBe(0);
    });

    // A new incident of this stack's own alarm (a new event id, fresh, OK -> ALARM): it passes triage and dedupe,
    // so what holds it off is the cooldown, and the outcome's why must say so.
    it("skips a new incident inside the cooldown, says why, and changes nothing", async () => {
        const s = settings();
        expect((await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s))).action).toBe("rolled-back");
        await notifications();
        // The stack is reconciled to v2 (v1 now warm) and v2 fails too.
        const onV2 = settings({ pinnedVersion: "2", rollbackVersion: "1", pinnedConfigName: CONFIG["2"], rollbackConfigName: CONFIG["3"] });

        const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), onV2, ports(onV2));

        expect(outcome.action).toBe("skipped");
        expect(outcome.why).toMatch(
            /^version 2 was restored by a rollback \d+ s ago and is failing too; no rollback of a rollback within the 1800 s cooldown; roll back by hand/,
        );
        // Read back from AWS: only the first incident's UpdateEndpoint and build; every message since is the one notice.
        expect(await server.updateEndpointCalls()).toEqual([{ name: ENDPOINT, config: CONFIG["2"] }]);
        expect(await servedConfig()).toBe(CONFIG["2"]);
        expect(await buildCount()).toBe(1);
        expect((await notifications()).map((m) => m.Subject)).toEqual(["mlops rollback skipped: fraud-detector (prod) 2 -> 1"]);
        expect(await queuedNotificationCount()).toBe(0);
    });

    it("holds off a new incident of the same alarm while the rollback is being reconciled, quietly", async () => {
        const s = settings();
        expect((await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s))).action).toBe("rolled-back");
        await notifications();
        // The stack still pins v3 (the reconcile build has not finished) when the alarm goes OK and fires again.

        const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s));

        expect(outcome.action).toBe("ignored");
        expect(outcome.why).toMatch(/^the rollback 3 -> 2 of \d+ s ago is still being reconciled$/);
        expect(await server.updateEndpointCalls()).toEqual([{ name: ENDPOINT, config: CONFIG["2"] }]);
        expect(await buildCount()).toBe(1);
        // People were told about the incident once, by the first rollback.
        expect(await queuedNotificationCount()).toBe(0);
    });

    it("fails closed, touching nothing, when the target's endpoint config is gone", async () => {
        await clients.sagemaker.send(new DeleteEndpointConfigCommand({ EndpointConfigName: CONFIG["2"] }));
        const s = settings();

        const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s));

        expect(outcome).toEqual({ action: "failed-closed", why: `version 2 cannot serve: endpoint config ${CONFIG["2"]} does not exist; nothing was changed` });
        expect(await servedConfig()).toBe(CONFIG["3"]);
        expect(await buildCount()).toBe(0);
        expect((await notifications()).map((m) => m.Subject)).toEqual(["mlops rollback refused: fraud-detector (prod) 3 -> 2"]);
    });

    it("fails closed when the target's image is gone from ECR", async () => {
        await clients.ecr.send(new BatchDeleteImageCommand({ repositoryName: REPOSITORY, imageIds: [{ imageDigest: images["2"].split("@")[1] }] }));
        const s = settings();

        const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s));

        expect(outcome.action).toBe("failed-closed");
        expect(outcome.why).toContain(`image ${images["2"]} is gone from its ECR repository`);
        expect(await servedConfig()).toBe(CONFIG["3"]);
        expect(await buildCount()).toBe(0);
    });

    it("fails closed when no warm version precedes the pin", async () => {
        const s = settings({ rollbackVersion: undefined });
        const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s));
        expect(outcome.action).toBe("failed-closed");
        expect(await servedConfig()).toBe(CONFIG["3"]);
        expect(await buildCount()).toBe(0);
    });

    it("leaves an Updating endpoint alone after a bounded re-check", async () => {
        await server.setEndpointStatus(ENDPOINT, "Updating");
        const s = settings();
        const p = ports(s);

        const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, p);

        expect(outcome.action).toBe("skipped");
        expect(outcome.why).toContain(`endpoint ${ENDPOINT} is Updating`);
        expect(p.sleeps).toEqual([20_000, 20_000]);
        await server.setEndpointStatus(ENDPOINT, "InService");
        expect(await servedConfig()).toBe(CONFIG["3"]);
        expect(await buildCount()).toBe(0);
    });

    it("a burst of 20 deliveries of one incident restores once and starts one build", async () => {
        const s = settings();
        const firedAt = new Date();
        const outcomes = await Promise.all(Array.from({ length: 20 }, () => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM, firedAt }), s, ports(s))));

        expect(outcomes.filter((o) => o.action === "rolled-back")).toHaveLength(1);
        expect(await servedConfig()).toBe(CONFIG["2"]);
        expect(await buildCount()).toBe(1);
        // One message for the incident, not one per delivery.
        expect(await queuedNotificationCount()).toBe(1);
    });

    /**
     * The AWS calls the handler made while `handle` ran, as moto received
     * them (the tests' own calls come before and after, never during).
     */
    async function callsDuring(handle: () => Promise<unknown>): Promise<AwsCall[]> {
        const before = (await server.calls()).length;
        await handle();
        return (await server.calls()).slice(before);
    }

    it("a storm of 50 events for one incident, out of order and all at once, makes one UpdateEndpoint, one build and one message", async ({ task }) => {
        const s = settings();
        // Every ALARM fires after the endpoint was created (in beforeEach), 10 ms apart: none is dropped as older than
        // the endpoint's last change, so they all race for the cooldown claim (1 s apart, 29 of 30 were stale and never raced).
        await new Promise((resolve) => setTimeout(resolve, 500));
        const storm = alarmStorm(ALARM, Date.now(), 10);
        expect(storm).toHaveLength(50);

        const calls = await callsDuring(() => Promise.all(storm.map((event) => handleAlarmEvent(event, s, ports(s)))));

        // Read back from AWS, not from the handler's outcomes.
        expect(await server.updateEndpointCalls()).toEqual([{ name: ENDPOINT, config: CONFIG["2"] }]);
        expect(await servedConfig()).toBe(CONFIG["2"]);
        expect(await buildCount()).toBe(1);
        expect(await queuedNotificationCount()).toBe(1);
        // What a rollback may need (the versions' Models, EndpointConfigs and images, the runner, the topic) can only be lost
        // through a call that removes or rewrites it: the handler made none beyond its one UpdateEndpoint.
        const lost = callsThatCouldLoseData(calls);
        recordFault(task, {
            scenario: "alarm storm (moto): 1 UpdateEndpoint, 1 build",
            injected: storm.length,
            kind: "alarm event",
            lost,
            checked: calls.length,
        });
        expect(calls.length).toBeGreaterThan(storm.length);
        expect(lost).toEqual([]);
    });

    it("10 concurrent deliveries of the same event restore once; the rest are redeliveries", async () => {
        const s = settings();
        const event = compositeAlarmEvent({ alarmName: ALARM });
        const outcomes = await Promise.all(Array.from({ length: 10 }, () => handleAlarmEvent(event, s, ports(s))));

        expect(outcomes.filter((o) => o.action === "rolled-back")).toHaveLength(1);
        expect(outcomes.filter((o) => o.why.includes("handled before"))).toHaveLength(9);
        expect(await buildCount()).toBe(1);
    });

    it("forgets an event whose handling failed, so that the retry handles it", async () => {
        const s = settings();
        const event = compositeAlarmEvent({ alarmName: ALARM });
        const flaky = ports(s);
        const describeEndpoint = flaky.describeEndpoint.bind(flaky);
        // SageMaker throttles the first call (the layer below the handler: an AWS error).
        let calls = 0;
        flaky.describeEndpoint = (name) =>
            ++calls === 1 ? Promise.reject(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" })) : describeEndpoint(name);

        await expect(handleAlarmEvent(event, s, flaky)).rejects.toThrow("Rate exceeded");
        expect(await servedConfig()).toBe(CONFIG["3"]);

        const retry = await handleAlarmEvent(event, s, flaky);
        expect(retry.action).toBe("rolled-back");
        expect(await servedConfig()).toBe(CONFIG["2"]);
        expect(await buildCount()).toBe(1);
    });

    it("the cooldown claim holds off the same incident and a rollback of the rollback, not a later release", async () => {
        const p = ports(settings());
        const claimedAt = new Date();
        const notBefore = new Date(claimedAt.getTime() - 1800_000);
        expect(await p.claimRollback({ at: claimedAt, alarmName: ALARM, eventId: "a", from: "3", to: "2" }, notBefore)).toBe(true);

        const claimFrom = (from: string) => p.claimRollback({ at: new Date(), alarmName: ALARM, eventId: `b-${from}`, from, to: "x" }, notBefore);
        expect(await claimFrom("3")).toBe(false); // still reconciling 3 -> 2
        expect(await claimFrom("2")).toBe(false); // 2 was restored and fails too
        expect(await claimFrom("4")).toBe(true); // a release deployed after the rollback
    });

    it("an incident's steps are written into its own record only, and its build id once (conditional writes, read back from DynamoDB)", async () => {
        const p = ports(settings());
        const incident = { at: new Date(), alarmName: ALARM, eventId: "a", from: "3", to: "2", steps: { traffic: { state: "pending" as const } } };
        expect(await p.claimRollback(incident, new Date(Date.now() - 1800_000))).toBe(true);

        expect(await p.recordIncidentStep("a", { traffic: { state: "moved", how: "endpoint moved to version 2" } })).toBe(true);
        expect(await p.recordIncidentStep("a", { buildId: "runner:build-1" })).toBe(true);
        expect(await p.recordIncidentStep("a", { buildId: "runner:build-2" })).toBe(false);
        expect(await p.recordIncidentStep("b", { told: "rolled-back" })).toBe(false);
        expect(await p.recordIncidentStep("a", { told: "build-not-started" })).toBe(true);

        expect((await p.lastRollback())?.steps).toEqual({
            traffic: { state: "moved", how: "endpoint moved to version 2" },
            buildId: "runner:build-1",
            told: "build-not-started",
        });
        // Released, the record is gone, and a step of it writes nothing (no item made from a step alone).
        await p.releaseRollback(incident);
        expect(await p.recordIncidentStep("a", { told: "rolled-back" })).toBe(false);
        expect(await p.lastRollback()).toBeUndefined();
    });

    it("tells people, with the command that finishes it, when the reconcile build fails", async () => {
        const s = settings();
        const outcome = await handleTriggerEvent(
            buildStateChangeEvent({ projectName: "fraud-detector-prod-rollback-runner", status: "FAILED", from: "3", to: "2" }),
            s,
            ports(s),
        );

        expect(outcome.action).toBe("failed");
        expect(outcome.why).toContain("traffic is on 2 (restored by the alarm trigger), but the stack still pins 3");
        expect(outcome.why).toContain("mlops rollback --stack prod --version 2 --expect-from 3 --after-fast-path");
        const messages = await notifications();
        expect(messages.map((m) => m.Subject)).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2"]);
        // Touches nothing else.
        expect(await servedConfig()).toBe(CONFIG["3"]);
        expect(await buildCount()).toBe(0);
    });

    it.each([
        ["a succeeded build", { projectName: "fraud-detector-prod-rollback-runner", status: "SUCCEEDED" }],
        ["another project's failed build", { projectName: "someone-elses-project", status: "FAILED" }],
    ])("ignores %s", async (_, options) => {
        const s = settings();
        const outcome = await handleTriggerEvent(buildStateChangeEvent(options), s, ports(s));
        expect(outcome.action).toBe("ignored");
        expect(await queuedNotificationCount()).toBe(0);
    });

    describe("a failed reconcile build is told once per build (EventBridge delivers at least once)", () => {
        const RUNNER = "fraud-detector-prod-rollback-runner";
        const failedBuild = (status = "FAILED") => buildStateChangeEvent({ projectName: RUNNER, status, from: "3", to: "2" });
        const subjects = async () => (await notifications()).map((m) => m.Subject);

        it("the same build-failure event delivered twice: one notice", async () => {
            // GIVEN one FAILED event of the runner's build
            const s = settings();
            const event = failedBuild();
            // WHEN EventBridge delivers it twice
            const first = await handleTriggerEvent(event, s, ports(s));
            const again = await handleTriggerEvent(event, s, ports(s));
            // THEN the topic hears it once
            expect(first.action).toBe("failed");
            expect(again).toEqual({
                action: "ignored",
                why: `the end of build ${event.detail["build-id"]} was reported before (event ${event.id}: a redelivery)`,
            });
            expect(await subjects()).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2"]);
        });

        it("two different builds that fail: two notices, each naming its build", async () => {
            const s = settings();
            const [one, two] = [failedBuild(), failedBuild("STOPPED")];
            expect((await handleTriggerEvent(one, s, ports(s))).action).toBe("failed");
            expect((await handleTriggerEvent(two, s, ports(s))).action).toBe("failed");
            const messages = await notifications();
            expect(messages.map((m) => m.Subject).sort()).toEqual([
                "mlops reconcile failed: fraud-detector (prod) 3 -> 2",
                "mlops reconcile stopped: fraud-detector (prod) 3 -> 2",
            ]);
            expect(messages.map((m) => (JSON.parse(m.Message) as { buildId: string }).buildId).sort()).toEqual(
                [one.detail["build-id"], two.detail["build-id"]].sort(),
            );
        });

        /** A delivery that claims the event at `t0` and then hangs in SNS, as one Lambda ends at `deadline` (ms) would; resolves once it holds the claim. */
        async function claimThenHang(event: ReturnType<typeof failedBuild>, s: TriggerSettings, t0: number, deadline: number): Promise<void> {
            const dying = ports(s);
            let publishStarted: () => void = () => {};
            const claimed = new Promise<void>((resolve) => (publishStarted = resolve));
            dying.publish = () => {
                publishStarted();
                return new Promise<void>(() => {});
            };
            void handleTriggerEvent(event, s, dying, () => new Date(t0), new Date(deadline));
            await claimed;
        }

        it("10 concurrent deliveries of one build failure: one notice; the others wait for it, then stand down", async () => {
            const s = settings();
            const event = failedBuild();
            const outcomes = await Promise.all(Array.from({ length: 10 }, () => handleTriggerEvent(event, s, ports(s))));
            expect(outcomes.filter((o) => o.action === "failed")).toHaveLength(1);
            expect(outcomes.filter((o) => o.why.includes("was reported before"))).toHaveLength(9);
            expect(await queuedNotificationCount()).toBe(1);
        });

        it("a delivery that dies between its claim and its notice loses nothing: a retry waits out its claim, then tells, once", async () => {
            const s = settings();
            const event = failedBuild();
            // GIVEN a delivery that claims the event, then hangs in SNS until Lambda ends it at its 140 s timeout
            const t0 = Date.now();
            await claimThenHang(event, s, t0, t0 + 140_000);

            // WHEN Lambda's retry comes a minute later, while the dead delivery's claim still stands
            const retry = ports(s);
            const outcome = await handleTriggerEvent(event, s, retry, () => new Date(t0 + 60_000), new Date(t0 + 200_000));

            // THEN it waited until the claim lapsed (the dead delivery's timeout), and told people
            expect(outcome.action).toBe("failed");
            expect(retry.sleeps.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThanOrEqual(80_000);
            expect(await subjects()).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2"]);
            // AND a later redelivery is a redelivery
            const later = await handleTriggerEvent(event, s, ports(s), () => new Date(t0 + 300_000));
            expect(later.why).toContain("was reported before");
            expect(await queuedNotificationCount()).toBe(0);
        });

        it("a retry that would time out before the claim lapses fails (Lambda retries it later) instead of calling it handled", async () => {
            const s = settings();
            const event = failedBuild();
            const t0 = Date.now();
            await claimThenHang(event, s, t0, t0 + 900_000);

            await expect(handleTriggerEvent(event, s, ports(s), () => new Date(t0 + 60_000), new Date(t0 + 200_000))).rejects.toThrow(
                "is still being handled by another delivery",
            );
            expect(await queuedNotificationCount()).toBe(0);
            // Lambda's next retry, after the claim lapsed, tells people.
            expect((await handleTriggerEvent(event, s, ports(s), () => new Date(t0 + 901_000))).action).toBe("failed");
            expect(await subjects()).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2"]);
        });

        it("DynamoDB failing after the notice went out does not fail the invocation: no Lambda retry repeats the notice", async () => {
            const s = settings();
            const event = failedBuild();
            const flaky = ports(s);
            flaky.finishEvent = () =>
                Promise.reject(Object.assign(new Error("Throughput exceeds the current capacity"), { name: "ProvisionedThroughputExceededException" }));

            const outcome = await handleTriggerEvent(event, s, flaky);

            expect(outcome.action).toBe("failed");
            expect(outcome.why).toContain("not recorded as handled: Throughput exceeds the current capacity");
            expect(await subjects()).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2"]);
        });

        it("SNS failing is retried, not lost: the claim is dropped, and the retry tells people once", async () => {
            const s = settings();
            const event = failedBuild();
            const flaky = ports(s);
            flaky.publish = () => Promise.reject(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
            await expect(handleTriggerEvent(event, s, flaky)).rejects.toThrow("Rate exceeded");

            // The failed delivery let go of its claim: the retry does not wait for it.
            const retry = ports(s);
            expect((await handleTriggerEvent(event, s, retry)).action).toBe("failed");
            expect(retry.sleeps).toEqual([]);
            expect(await subjects()).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2"]);
        });
    });

    // Each test runs the handler in up to four processes of its own (a few seconds each on a busy machine).
    describe("an incident survives a killed or failing delivery: Lambda's retry finishes it (issue 23, item 2)", { timeout: 180_000 }, () => {
        const DLQ = "fraud-detector-trigger-dlq";
        const INCIDENT_KEY = "rollback#prod#fraud-detector";
        /** The killed delivery's remaining time: its claim on the event lapses this long after it starts, and the retry waits that out. */
        const KILLED_REMAINING_MS = 2_000;
        let dlqUrl: string;

        beforeEach(async () => {
            dlqUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: DLQ }))).QueueUrl as string;
        });

        /** A call to moto's fault hooks (test-aws/moto_server.py). */
        async function faultHook(route: string, body?: object): Promise<unknown> {
            const response = await fetch(`${server.endpoint}${route}`, { method: body === undefined ? "GET" : "POST", body: JSON.stringify(body) });
            if (!response.ok) throw new Error(`${route}: HTTP ${response.status} ${await response.text()}`);
            return route === "/_mlops/held" ? response.json() : response.text();
        }
        /** The next `times` calls of an operation (-1: all) fail with that AWS error, as the service would answer. */
        const failing = (service: string, operation: string, times: number, code: string, message: string) =>
            faultHook("/_mlops/faults", { service, operation, times, code, message });

        /** One invocation's process: how it ended, and what it wrote. */
        interface Invocation {
            readonly code: number | null;
            readonly signal: NodeJS.Signals | null;
            readonly stdout: string;
            readonly stderr: string;
        }

        /** trigger/lambda.ts from source, in a process of its own (test/fixtures/runTriggerHandler.ts), on moto. */
        function startInvocation(event: object, remainingMs: number): { readonly child: ChildProcess; readonly ended: Promise<Invocation> } {
            const child = spawn(process.execPath, [...RUN_TRIGGER_HANDLER, JSON.stringify(event), String(remainingMs)], {
                cwd: path.join(__dirname, ".."),
                env: {
                    PATH: process.env.PATH,
                    ...triggerEnvironment(settings()),
                    AWS_REGION: MOTO_REGION,
                    AWS_ACCESS_KEY_ID: "testing",
                    AWS_SECRET_ACCESS_KEY: "testing",
                    AWS_ENDPOINT_URL: server.endpoint,
                },
            });
            let stdout = "";
            let stderr = "";
            child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
            child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
            const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
            const ended = new Promise<Invocation>((resolve) =>
                child.on("exit", (code, signal) => {
                    clearTimeout(guard);
                    resolve({ code, signal, stdout, stderr });
                }),
            );
            return { child, ended };
        }

        /**
         * Lambda's asynchronous invocation as the trigger's function is set up
         * (FunctionEventInvokeConfig: maximumRetryAttempts 2): up to three
         * attempts, each a fresh process; when all three fail, the event goes
         * to the function's dead-letter queue as Lambda sends it: the event
         * unchanged as the body, RequestID, ErrorCode and ErrorMessage (its
         * first 1 KB) as attributes. (Lambda waits a minute, then two, before
         * a retry; here it starts at once: a failed delivery lets its claim go.)
         */
        async function invokeAsync(event: object): Promise<{ readonly attempts: Invocation[]; readonly deadLettered: boolean }> {
            const attempts: Invocation[] = [];
            for (let attempt = 1; attempt <= 3; attempt++) {
                const run = await startInvocation(event, 60_000).ended;
                attempts.push(run);
                if (run.code === 0) return { attempts, deadLettered: false };
            }
            const error = JSON.parse(attempts[2].stderr.trim().split("\n").pop() ?? "{}") as { errorMessage?: string };
            await clients.sqs.send(
                new SendMessageCommand({
                    QueueUrl: dlqUrl,
                    MessageBody: JSON.stringify(event),
                    MessageAttributes: {
                        RequestID: { DataType: "String", StringValue: randomUUID() },
                        ErrorCode: { DataType: "Number", StringValue: "200" },
                        ErrorMessage: {
                            DataType: "String",
                            StringValue: Buffer.from(error.errorMessage ?? "")
                                .subarray(0, 1024)
                                .toString("utf8"),
                        },
                    },
                }),
            );
            return { attempts, deadLettered: true };
        }

        /** The dead-letter queue's messages: the event each carries and Lambda's ErrorMessage. */
        async function deadLetters(): Promise<{ readonly eventId: string; readonly errorMessage: string }[]> {
            const { Messages } = await clients.sqs.send(
                new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ["All"] }),
            );
            return (Messages ?? []).map((message) => ({
                eventId: (JSON.parse(message.Body ?? "{}") as { id: string }).id,
                errorMessage: message.MessageAttributes?.ErrorMessage?.StringValue ?? "",
            }));
        }

        /** Starts an invocation, lets moto carry out the held call, and kills the process (SIGKILL) while it waits for the answer. */
        async function killedAt(
            event: object,
            hold: { readonly service: string; readonly operation: string; readonly contains?: string },
        ): Promise<Invocation> {
            await faultHook("/_mlops/hold", hold);
            const run = startInvocation(event, KILLED_REMAINING_MS);
            let ended: Invocation | undefined;
            void run.ended.then((result) => (ended = result));
            for (;;) {
                const { held } = (await faultHook("/_mlops/held")) as { held: AwsCall[] };
                if (held.length > 0) break;
                if (ended !== undefined) throw new Error(`the handler ended before ${hold.operation}: ${ended.stderr}`);
                await new Promise((resolve) => setTimeout(resolve, 25));
            }
            run.child.kill("SIGKILL");
            const killed = await run.ended;
            const callsAtKill = (await server.calls()).length;
            await faultHook("/_mlops/release", {});
            // Dead indeed: nothing of that delivery reaches AWS after its answer is let go.
            await new Promise((resolve) => setTimeout(resolve, 300));
            expect((await server.calls()).length).toBe(callsAtKill);
            return killed;
        }

        /** The incident as AWS (moto) holds it: switches SageMaker accepted, builds, notices, the state table's record. */
        async function incidentInAws() {
            const { Item } = await clients.dynamodb.send(new GetItemCommand({ TableName: "mlops-trigger-state", Key: { pk: { S: INCIDENT_KEY } } }));
            return {
                switches: await server.updateEndpointCalls(),
                served: await servedConfig(),
                builds: await buildCount(),
                notices: await notifications(),
                record: { trafficStep: Item?.trafficStep?.S, buildId: Item?.buildId?.S, told: Item?.told?.S },
            };
        }

        /** What of the incident is nowhere: the switch, the build, the notice (neither published nor in the dead-letter queue). */
        function lostSteps(aws: Awaited<ReturnType<typeof incidentInAws>>, deadLettered: number): string[] {
            return [
                ...(aws.served === CONFIG["2"] ? [] : ["traffic switch"]),
                ...(aws.builds > 0 || deadLettered > 0 ? [] : ["reconcile build"]),
                ...(aws.notices.length > 0 || deadLettered > 0 ? [] : ["notice"]),
            ];
        }

        it.for([
            ["its UpdateEndpoint took effect, before recording it", "switch done, not recorded", { service: "sagemaker", operation: "UpdateEndpoint" }],
            ["the switch was recorded", "switch recorded", { service: "dynamodb", operation: "UpdateItem", contains: '"moved"' }],
            ["its StartBuild took effect, before recording it", "build started, not recorded", { service: "codebuild", operation: "StartBuild" }],
            ["the build was recorded", "build recorded", { service: "dynamodb", operation: "UpdateItem", contains: '":buildId"' }],
            ["the notice was published and recorded", "notice sent and recorded", { service: "dynamodb", operation: "UpdateItem", contains: '":told"' }],
        ] as const)("killed (SIGKILL) right after %s: Lambda's retry finishes the incident, each step exactly once", async ([, step, hold], { task }) => {
            const event = compositeAlarmEvent({ alarmName: ALARM });
            const before = (await server.calls()).length;

            const killed = await killedAt(event, hold);
            const retry = await invokeAsync(event);

            const handlerCalls = (await server.calls()).slice(before);
            expect(killed.signal).toBe("SIGKILL");
            expect(retry.attempts.map((run) => run.code)).toEqual([0]);
            // Read back from AWS: one switch, one build, one notice; the record holds every step.
            const aws = await incidentInAws();
            expect(aws.switches).toEqual([{ name: ENDPOINT, config: CONFIG["2"] }]);
            expect(aws.served).toBe(CONFIG["2"]);
            expect(aws.builds).toBe(1);
            expect(aws.notices.map((notice) => notice.Subject)).toEqual(["mlops rolled back: fraud-detector (prod) 3 -> 2"]);
            expect(aws.record).toMatchObject({
                trafficStep: "moved",
                buildId: expect.stringMatching(/^fraud-detector-prod-rollback-runner:/),
                told: "rolled-back",
            });
            const lost = [...lostSteps(aws, 0), ...callsThatCouldLoseData(handlerCalls)];
            recordFault(task, {
                scenario: `incident SIGKILLed: ${step} (moto)`,
                injected: 1,
                kind: "SIGKILL + Lambda retry",
                lost,
                checked: 5,
            });
            expect(lost).toEqual([]);
        });

        it("killed right after StartBuild, the retry past CodeBuild's idempotency window (StartBuild refusing from then on): the retry finds the build by its event id and starts none", async () => {
            const event = compositeAlarmEvent({ alarmName: ALARM });

            await killedAt(event, { service: "codebuild", operation: "StartBuild" });
            // A second StartBuild would fail: only the lookup (ListBuildsForProject, BatchGetBuilds) can finish the build step.
            await failing("codebuild", "StartBuild", -1, "AccountLimitExceededException", "Cannot have more than 1 builds in queue for the account");
            const retry = await invokeAsync(event);

            expect(retry.attempts.map((run) => run.code)).toEqual([0]);
            const aws = await incidentInAws();
            expect(aws.builds).toBe(1);
            expect(aws.notices.map((notice) => notice.Subject)).toEqual(["mlops rolled back: fraud-detector (prod) 3 -> 2"]);
            expect(aws.record).toMatchObject({
                trafficStep: "moved",
                buildId: expect.stringMatching(/^fraud-detector-prod-rollback-runner:/),
                told: "rolled-back",
            });
        });

        it("killed right after its notice was published, before recording it: the retry tells again, twice rather than never, and switches and builds once", async ({
            task,
        }) => {
            const event = compositeAlarmEvent({ alarmName: ALARM });

            await killedAt(event, { service: "sns", operation: "Publish" });
            const retry = await invokeAsync(event);

            expect(retry.attempts.map((run) => run.code)).toEqual([0]);
            const aws = await incidentInAws();
            expect(aws.switches).toHaveLength(1);
            expect(aws.builds).toBe(1);
            // The same notice twice: SNS topics do not deduplicate, and a notice the record does not show as sent is sent again.
            expect(aws.notices.map((notice) => notice.Subject)).toEqual(Array(2).fill("mlops rolled back: fraud-detector (prod) 3 -> 2"));
            expect(new Set(aws.notices.map((notice) => notice.Message)).size).toBe(1);
            const lost = lostSteps(aws, 0);
            recordFault(task, {
                scenario: "incident SIGKILLed: notice sent, not recorded (moto)",
                injected: 1,
                kind: "SIGKILL + Lambda retry",
                lost,
                checked: 4,
            });
            expect(lost).toEqual([]);
        });

        it("SNS refusing once, and the retry coming 905 s after the alarm fired (900 s allowed): the retry still tells people once; one switch, one build", async () => {
            await failing("sns", "Publish", 1, "KMSThrottling", "Rate exceeded for KMS key (moto fault)");
            const event = compositeAlarmEvent({ alarmName: ALARM });
            const s = settings();
            await expect(handleAlarmEvent(event, s, ports(s))).rejects.toThrow("was not sent");

            // Lambda's retry after its backoff (and a cold start), the age counted from when the alarm fired.
            const later = () => new Date(Date.now() + 905_000);
            const retry = await handleAlarmEvent(event, s, ports(s), later);

            expect(retry.action).toBe("rolled-back");
            const aws = await incidentInAws();
            expect(aws.switches).toHaveLength(1);
            expect(aws.builds).toBe(1);
            expect(aws.notices.map((notice) => notice.Subject)).toEqual(["mlops rolled back: fraud-detector (prod) 3 -> 2"]);
            expect(aws.record).toMatchObject({ trafficStep: "moved", told: "rolled-back" });
        });

        it("SNS refusing once (a throttled KMS key): the first attempt fails, the retry tells people once; one switch, one build, nothing dead-lettered", async ({
            task,
        }) => {
            await failing("sns", "Publish", 1, "KMSThrottling", "Rate exceeded for KMS key (moto fault)");
            const event = compositeAlarmEvent({ alarmName: ALARM });

            const { attempts, deadLettered } = await invokeAsync(event);

            expect(attempts.map((run) => run.code)).toEqual([1, 0]);
            expect(attempts[0].stderr).toContain('"errorType":"NoticeNotSentError"');
            const aws = await incidentInAws();
            expect(aws.switches).toHaveLength(1);
            expect(aws.builds).toBe(1);
            expect(aws.notices.map((notice) => notice.Subject)).toEqual(["mlops rolled back: fraud-detector (prod) 3 -> 2"]);
            expect(deadLettered).toBe(false);
            expect(await deadLetters()).toEqual([]);
            const lost = lostSteps(aws, 0);
            recordFault(task, { scenario: "incident: SNS refuses once, the retry tells (moto)", injected: 1, kind: "SNS KMSThrottling", lost, checked: 4 });
            expect(lost).toEqual([]);
        });

        it("SNS refusing every attempt: the third attempt's failure goes to the dead-letter queue with the event and what people were not told", async ({
            task,
        }) => {
            await failing("sns", "Publish", -1, "KMSThrottling", "Rate exceeded for KMS key (moto fault)");
            const event = compositeAlarmEvent({ alarmName: ALARM });

            const { attempts, deadLettered } = await invokeAsync(event);

            expect(attempts.map((run) => run.code)).toEqual([1, 1, 1]);
            expect(deadLettered).toBe(true);
            const aws = await incidentInAws();
            expect(aws.switches).toHaveLength(1);
            expect(aws.builds).toBe(1);
            expect(aws.notices).toEqual([]);
            const letters = await deadLetters();
            expect(letters.map((letter) => letter.eventId)).toEqual([event.id]);
            // Enough to act on: the notice's subject and text, the build that runs, where traffic is.
            const buildId = aws.record.buildId as string;
            expect(letters[0].errorMessage).toBe(
                `the notice "mlops rolled back: fraud-detector (prod) 3 -> 2" was not sent (Rate exceeded for KMS key (moto fault)): endpoint ${ENDPOINT} moved to version 2; reconcile build ${buildId} pins it in the stack`,
            );
            expect(aws.record).toEqual({ trafficStep: "moved", buildId, told: undefined });
            const lost = lostSteps(aws, letters.length);
            recordFault(task, { scenario: "incident: SNS refuses every attempt -> DLQ (moto)", injected: 3, kind: "SNS KMSThrottling", lost, checked: 5 });
            expect(lost).toEqual([]);
        });

        it("StartBuild refusing once: people are told it did not start, the retry starts it and says so; one build", async ({ task }) => {
            await failing("codebuild", "StartBuild", 1, "AccountLimitExceededException", "Cannot have more than 1 builds in queue for the account");
            const event = compositeAlarmEvent({ alarmName: ALARM });

            const { attempts, deadLettered } = await invokeAsync(event);

            expect(attempts.map((run) => run.code)).toEqual([1, 0]);
            expect(attempts[0].stderr).toContain('"errorType":"UnfinishedIncidentError"');
            const aws = await incidentInAws();
            expect(aws.switches).toHaveLength(1);
            expect(aws.builds).toBe(1);
            expect(aws.notices.map((notice) => notice.Subject)).toEqual([
                "mlops rollback failed: fraud-detector (prod) 3 -> 2",
                "mlops rolled back: fraud-detector (prod) 3 -> 2",
            ]);
            expect(deadLettered).toBe(false);
            const lost = lostSteps(aws, 0);
            recordFault(task, {
                scenario: "incident: StartBuild refuses once, the retry builds (moto)",
                injected: 1,
                kind: "CodeBuild refusal",
                lost,
                checked: 4,
            });
            expect(lost).toEqual([]);
        });

        it("StartBuild and SNS refusing every attempt (the issue's case): traffic stays switched, and the dead-letter queue says so and how to finish", async ({
            task,
        }) => {
            await failing("codebuild", "StartBuild", -1, "AccessDeniedException", "not authorized to perform codebuild:StartBuild (moto fault)");
            await failing("sns", "Publish", -1, "KMSThrottling", "Rate exceeded for KMS key (moto fault)");
            const event = compositeAlarmEvent({ alarmName: ALARM });

            const { attempts, deadLettered } = await invokeAsync(event);

            expect(attempts.map((run) => run.code)).toEqual([1, 1, 1]);
            expect(deadLettered).toBe(true);
            const aws = await incidentInAws();
            expect(aws.switches).toHaveLength(1);
            expect(aws.served).toBe(CONFIG["2"]);
            expect(aws.builds).toBe(0);
            const letters = await deadLetters();
            expect(letters.map((letter) => letter.eventId)).toEqual([event.id]);
            expect(letters[0].errorMessage).toBe(
                'the notice "mlops rollback failed: fraud-detector (prod) 3 -> 2" was not sent (Rate exceeded for KMS key (moto fault)): traffic is on 2, but the reconcile build did not start (not authorized to perform codebuild:StartBuild (moto fault)); the trigger starts it on Lambda\'s retries of this event and says so; if no "rolled back" notice follows, finish it by hand with mlops rollback --stack prod --version 2 --expect-from 3 --after-fast-path',
            );
            const lost = lostSteps(aws, letters.length);
            recordFault(task, {
                scenario: "incident: StartBuild + SNS refuse every attempt -> DLQ (moto)",
                injected: 6,
                kind: "CodeBuild + SNS refusal",
                lost,
                checked: 4,
            });
            expect(lost).toEqual([]);
        });
    });

    describe("odd events through the real handler, each handled once and reported (issue 23, item 11)", { timeout: 120_000 }, () => {
        /** Runs trigger/lambda.ts on `event` in a process of its own, once: its exit code and logged outcome. */
        async function invokeOnce(event: object): Promise<{ readonly code: number | null; readonly outcome: { action?: string; why?: string } }> {
            const run = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
                execFile(
                    process.execPath,
                    [...RUN_TRIGGER_HANDLER, JSON.stringify(event), "60000"],
                    {
                        cwd: path.join(__dirname, ".."),
                        env: {
                            PATH: process.env.PATH,
                            ...triggerEnvironment(settings()),
                            AWS_REGION: MOTO_REGION,
                            AWS_ACCESS_KEY_ID: "testing",
                            AWS_SECRET_ACCESS_KEY: "testing",
                            AWS_ENDPOINT_URL: server.endpoint,
                        },
                        timeout: 60_000,
                    },
                    (error, stdout) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout }),
                );
            });
            return { code: run.code, outcome: lastLine(run.stdout) };
        }

        it("a failed build whose environment-variables field is not a list: handled on the first attempt (no throw for Lambda to retry), reported once", async () => {
            const event = buildStateChangeEvent({ projectName: "fraud-detector-prod-rollback-runner", status: "FAILED", from: "3", to: "2" });
            (event.detail["additional-information"].environment as Record<string, unknown>)["environment-variables"] = "MLOPS_ROLLBACK_VERSION=2";

            const { code, outcome } = await invokeOnce(event);

            expect(code).toBe(0);
            expect(outcome.action).toBe("failed");
            expect(outcome.why).toContain("environment-variables is a string, not a list");
            expect((await notifications()).map((m) => m.Subject)).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2"]);
        });

        it("a variant: a build event without a build id is rejected, logged with why, and touches no AWS", async () => {
            const event = buildStateChangeEvent({ projectName: "fraud-detector-prod-rollback-runner", status: "FAILED" }) as {
                detail: Record<string, unknown>;
            };
            delete event.detail["build-id"];
            const before = (await server.calls()).length;

            const { code, outcome } = await invokeOnce(event);

            expect(code).toBe(0);
            expect(outcome).toMatchObject({
                action: "rejected",
                why: "malformed CodeBuild Build State Change event: detail.build-id is not a non-empty string",
            });
            expect((await server.calls()).slice(before)).toEqual([]);
        });

        it("a newline in a version id: the notice goes out under a one-line subject (SNS, as moto now does, refuses the raw one)", async () => {
            const { TopicArn } = await clients.sns.send(new CreateTopicCommand({ Name: "fraud-detector-prod-alarms" }));
            await expect(clients.sns.send(new PublishCommand({ TopicArn, Subject: "3 -> 2\nX", Message: "{}" }))).rejects.toThrow("Invalid parameter: Subject");
            const s = settings();

            const outcome = await handleTriggerEvent(
                buildStateChangeEvent({ projectName: "fraud-detector-prod-rollback-runner", status: "FAILED", from: "3", to: "2\nX-Injected: yes" }),
                s,
                ports(s),
            );

            expect(outcome.action).toBe("failed");
            const messages = await notifications();
            expect(messages.map((m) => m.Subject)).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2 X-Injected: yes"]);
            expect((JSON.parse(messages[0].Message) as { to: string }).to).toBe("2\nX-Injected: yes");
        });

        it("an alarm dated a day in the future is ignored, logged with why, and touches no AWS", async () => {
            const before = (await server.calls()).length;

            const { code, outcome } = await invokeOnce(compositeAlarmEvent({ alarmName: ALARM, firedAt: new Date(Date.now() + 86_400_000) }));

            expect(code).toBe(0);
            expect(outcome.action).toBe("ignored");
            expect(outcome.why).toMatch(
                /^from the future: its detail\.state\.timestamp \(.+\) is 86\d{3} s ahead of now, more than the 300 s of clock skew allowed$/,
            );
            expect((await server.calls()).slice(before)).toEqual([]);
            expect(await servedConfig()).toBe(CONFIG["3"]);
        });
    });

    it("ignores an alarm that fired before the stack last updated the trigger (a new pin since)", async () => {
        // The trigger's Lambda, updated just now (as a deploy of a new pin would).
        const { Role } = await clients.iam.send(new CreateRoleCommand({ RoleName: "trigger", AssumeRolePolicyDocument: "{}" }));
        await clients.lambda.send(
            new CreateFunctionCommand({
                FunctionName: "fraud-detector-trigger-function-abc1234",
                Runtime: "nodejs24.x",
                Role: Role?.Arn,
                Handler: "index.handler",
                Code: { ZipFile: new Uint8Array([80, 75, 5, 6, ...new Array<number>(18).fill(0)]) },
            }),
        );
        const s = settings({ target: "kubernetes", functionName: "fraud-detector-trigger-function-abc1234" });

        const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM, firedAt: new Date(Date.now() - 120_000) }), s, ports(s));

        expect(outcome.action).toBe("ignored");
        expect(outcome.why).toContain("stale: the alarm fired before the stack last updated this trigger");
        expect(await buildCount()).toBe(0);
    });

    /** The bundle that ships, run as Lambda runs it: its module's `handler(event, context)` in a fresh Node.js process. */
    async function runBundle(event: object, remainingMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
        const dir = mkdtempSync(path.join(tmpdir(), "mlops-bundle-"));
        const bundle = path.join(dir, "index.js");
        writeFileSync(bundle, bundledTriggerHandler());
        // The Lambda runtime's side: its variables, and AWS_ENDPOINT_URL standing for the AWS endpoints (moto).
        const environment = {
            PATH: process.env.PATH,
            ...triggerEnvironment(settings()),
            AWS_REGION: MOTO_REGION,
            AWS_ACCESS_KEY_ID: "testing",
            AWS_SECRET_ACCESS_KEY: "testing",
            AWS_ENDPOINT_URL: server.endpoint,
        };
        const context = remainingMs === undefined ? "undefined" : `{ getRemainingTimeInMillis: () => ${remainingMs} }`;
        const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
            execFile(
                process.execPath,
                [
                    "-e",
                    `require(${JSON.stringify(bundle)}).handler(${JSON.stringify(event)}, ${context}).then(() => {}, (e) => { console.error(e); process.exit(1); })`,
                ],
                { env: environment, timeout: 60_000 },
                (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
            );
        });
        rmSync(dir, { recursive: true, force: true });
        return run;
    }
    const lastLine = (stdout: string) => JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { eventId?: string; action?: string; why?: string };

    it("the bundle that ships (what the Lambda runs) restores the endpoint through its own AWS clients", async () => {
        const event = compositeAlarmEvent({ alarmName: ALARM });
        const run = await runBundle(event);

        // (Node 20 here: the AWS SDK warns about it on stderr; Lambda runs Node 24.)
        expect(run.code, run.stderr).toBe(0);
        expect(lastLine(run.stdout)).toMatchObject({ eventId: event.id, action: "rolled-back" });
        expect(await servedConfig()).toBe(CONFIG["2"]);
        expect(await buildCount()).toBe(1);
    });

    it("the bundle that ships tells a failed build once when Lambda hands it the same event twice", async () => {
        const event = buildStateChangeEvent({ projectName: "fraud-detector-prod-rollback-runner", status: "FAILED", from: "3", to: "2" });
        const first = await runBundle(event, 140_000);
        const again = await runBundle(event, 140_000);

        expect(first.code, first.stderr).toBe(0);
        expect(lastLine(first.stdout)).toMatchObject({ eventId: event.id, action: "failed" });
        expect(lastLine(again.stdout)).toMatchObject({ eventId: event.id, action: "ignored" });
        expect((await notifications()).map((m) => m.Subject)).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2"]);
    });

    it("kubernetes: starts the reconcile build only", async () => {
        const s = settings({ target: "kubernetes", endpointName: "", pinnedConfigName: "", rollbackConfigName: "", rollbackImage: "" });
        const outcome = await handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s));
        expect(outcome.action).toBe("rolled-back");
        expect(outcome.why).toContain("runs mlops rollback --version 2");
        expect(await buildCount()).toBe(1);
        expect(await servedConfig()).toBe(CONFIG["3"]);
    });

    it("kubernetes, a rollback target that never gets ready: the failed build is reported once, and no second automatic rollback follows", async ({ task }) => {
        const s = settings({ target: "kubernetes", endpointName: "", pinnedConfigName: "", rollbackConfigName: "", rollbackImage: "" });
        const calls: AwsCall[] = [];
        const handled = async <T>(handle: () => Promise<T>): Promise<T> => {
            let result: T | undefined;
            calls.push(...(await callsDuring(async () => (result = await handle()))));
            return result as T;
        };
        expect((await handled(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s)))).action).toBe("rolled-back");
        await notifications();
        // The reconcile build's mlops rollback timed out on 2's pods: the build fails.
        const failed = await handled(() =>
            handleTriggerEvent(
                buildStateChangeEvent({ projectName: "fraud-detector-prod-rollback-runner", status: "FAILED", from: "3", to: "2" }),
                s,
                ports(s),
            ),
        );
        expect(failed.why).toContain("nothing changed: traffic is still on 3; finish it by hand with mlops rollback --stack prod --version 2 --expect-from 3");

        // The alarm goes OK and fires again: a new incident of this stack's alarm, past triage, held off by the cooldown
        // (the stack still pins 3: the rollback is not reconciled).
        const refired = await handled(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: ALARM }), s, ports(s)));
        expect(refired.action).toBe("ignored");
        expect(refired.why).toMatch(/^the rollback 3 -> 2 of \d+ s ago is still being reconciled$/);
        // Another alarm fires: not this stack's, dropped at triage.
        const other = await handled(() => handleAlarmEvent(compositeAlarmEvent({ alarmName: "fraud-detector-prod-latency" }), s, ports(s)));
        expect(other.action).toBe("ignored");
        expect(other.why).toContain("is not this stack's alarm");
        // Still one build, and every message since the rollback's is the failed build's one notice.
        expect(await buildCount()).toBe(1);
        expect((await notifications()).map((m) => m.Subject)).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2"]);
        expect(await queuedNotificationCount()).toBe(0);
        expect(await server.updateEndpointCalls()).toEqual([]);
        // On Kubernetes the handler's only writes are its claims, the one build and the one notice: no call could lose data,
        // and none reaches SageMaker at all (the cluster is the reconcile build's to change).
        const lost = callsThatCouldLoseData(calls);
        recordFault(task, {
            scenario: "failed reconcile, then 2 alarms (moto): no 2nd rollback",
            injected: 3,
            kind: "build failure + alarms",
            lost,
            checked: calls.length,
        });
        // moto's log did record this scenario's calls (the one build among them), so the two checks below are about something.
        expect(calls.map((call) => `${call.service} ${call.operation}`)).toContain("codebuild StartBuild");
        expect(calls.filter((call) => call.service === "sagemaker")).toEqual([]);
        expect(lost).toEqual([]);
    });
});

/**
 * Of the calls a handler made, those that could remove or rewrite what a
 * rollback may need: any delete, removal or stop, and any SageMaker, ECR or
 * CodeBuild write other than the rollback's own UpdateEndpoint and
 * StartBuild. DynamoDB item writes are the handler's own claims (its dedupe
 * and cooldown records) and SNS Publish is the notice: neither holds what a
 * rollback restores.
 */
function callsThatCouldLoseData(calls: readonly AwsCall[]): string[] {
    const own = new Set(["sagemaker UpdateEndpoint", "codebuild StartBuild", "sns Publish"]);
    const reads = /^(Describe|Get|List|BatchGet|Query|Scan)/;
    return calls
        .map((call) => `${call.service} ${call.operation}`)
        .filter((call) => {
            if (own.has(call) || reads.test(call.split(" ")[1])) return false;
            if (/^dynamodb (PutItem|UpdateItem|DeleteItem)$/.test(call)) return false;
            return true;
        });
}

function makeClients(server: MotoServer) {
    const options = motoClientOptions(server);
    return {
        sagemaker: new SageMakerClient(options),
        ecr: new ECRClient(options),
        dynamodb: new DynamoDBClient(options),
        codebuild: new CodeBuildClient(options),
        sns: new SNSClient(options),
        sqs: new SQSClient(options),
        iam: new IAMClient(options),
        lambda: new LambdaClient(options),
    };
}

/** Two versions' images in ECR, their Models and configs, and the endpoint on v3. Returns the images by digest. */
async function seedEndpointOnVersion3(clients: ReturnType<typeof makeClients>): Promise<Record<"2" | "3", string>> {
    await clients.ecr.send(new CreateRepositoryCommand({ repositoryName: REPOSITORY }));
    const images = {} as Record<"2" | "3", string>;
    for (const version of ["2", "3"] as const) {
        const manifest = JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.docker.distribution.manifest.v2+json",
            config: { digest: `v${version}` },
        });
        const { image } = await clients.ecr.send(new PutImageCommand({ repositoryName: REPOSITORY, imageManifest: manifest, imageTag: `v${version}` }));
        images[version] = `${MOTO_ACCOUNT}.dkr.ecr.${MOTO_REGION}.amazonaws.com/${REPOSITORY}@${image?.imageId?.imageDigest}`;
        const modelName = `fraud-detector-${version}-model`;
        await clients.sagemaker.send(
            new CreateModelCommand({
                ModelName: modelName,
                ExecutionRoleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/sagemaker`,
                PrimaryContainer: { Image: images[version], ModelDataUrl: `s3://models/fraud-detector/${version}/model.tar.gz` },
            }),
        );
        await clients.sagemaker.send(
            new CreateEndpointConfigCommand({
                EndpointConfigName: CONFIG[version],
                ProductionVariants: [
                    { VariantName: "primary", ModelName: modelName, InstanceType: "ml.m5.large", InitialInstanceCount: 2, InitialVariantWeight: 1 },
                ],
            }),
        );
    }
    await clients.sagemaker.send(new CreateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: CONFIG["3"] }));
    return images;
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
            name: "fraud-detector-prod-rollback-runner",
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
