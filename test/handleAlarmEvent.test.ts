/**
 * The alarm trigger's decisions (trigger/handleAlarmEvent.ts) over an
 * in-memory AWS: every refusal, every boundary of the cooldown and the
 * event claim, and every failure after the checks, each with its exact
 * outcome, the calls it made and the notice it published.
 * triggerHandler.moto.test.ts runs the same handler through the real ports
 * against emulated AWS; this file is the fast, exhaustive one.
 */
import { describe, expect, it } from "vitest";
import { endpointVariantsFor } from "../catalog/endpointVariants";
import {
    handleAlarmEvent,
    handleTriggerEvent,
    NoticeNotSentError,
    UnfinishedIncidentError,
    type EndpointState,
    type RollbackRecord,
    type TriggerAction,
} from "../trigger/handleAlarmEvent";
import type { TriggerSettings } from "../trigger/settings";
import { buildStateChangeEvent, compositeAlarmEvent } from "./fixtures/alarmEvents";
import { InMemoryTriggerPorts } from "./fixtures/inMemoryTriggerPorts";
import { noticeDue, remainingSteps, type IncidentSteps } from "../trigger/incident";
import { snsSubject } from "../trigger/notice";
import {
    PROD_ALARM as ALARM,
    PROD_CONFIG as CONFIG,
    PROD_ENDPOINT as ENDPOINT,
    PROD_GUARDRAILS as GUARDRAILS,
    PROD_RUNNER as RUNNER,
    prodTriggerSettings,
} from "./fixtures/triggerSettings";

const IMAGE_2 = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-detector@sha256:0000000000000000000000000000000000000000000000000000000000000002";
/** Now, for every test: the alarm fires a minute before. */
const T0 = Date.parse("2026-11-27T09:00:00.000Z");
const FIRED_AT = T0 - 60_000;
const DAY = 86_400_000;

/** The trigger's settings as `AlarmRollbackTrigger` writes them: pinned 3, 2 warm, a 30-minute cooldown. */
const settings = (overrides: Partial<TriggerSettings> = {}): TriggerSettings => prodTriggerSettings(IMAGE_2, overrides);

const KUBERNETES: Partial<TriggerSettings> = { target: "kubernetes", endpointName: "", pinnedConfigName: "", rollbackConfigName: "", rollbackImage: "" };

/** AWS at T0: the endpoint in service on v3 since yesterday, the trigger last updated yesterday, no rollback recorded. */
function aws(endpoint: Partial<EndpointState> = {}): InMemoryTriggerPorts {
    return new InMemoryTriggerPorts(T0, {
        endpoint: { status: "InService", configName: CONFIG["3"], lastModified: new Date(T0 - DAY), ...endpoint },
        triggerUpdated: new Date(T0 - DAY),
    });
}

/** A fresh OK -> ALARM of this stack's alarm, fired at `firedAt`. */
function alarmEvent(firedAt = FIRED_AT, id = "alarm-event-1") {
    return compositeAlarmEvent({ alarmName: ALARM, firedAt: new Date(firedAt), id });
}

/** The notice `IncidentReport` publishes about `event`. */
function incidentNotice(
    event: ReturnType<typeof alarmEvent>,
    action: Exclude<TriggerAction, "ignored">,
    why: string,
    versions = { from: "3", to: "2" as string | null },
) {
    return {
        action,
        why,
        model: "fraud-detector",
        stack: "prod",
        from: versions.from,
        to: versions.to,
        alarm: ALARM,
        alarmReason: event.detail.state.reason,
        firedAt: new Date(event.detail.state.timestamp).toISOString(),
        eventId: event.id,
    };
}

/** A last rollback of 3 -> 2 taken `agoMs` before T0. */
function rollbackOf3(agoMs: number): RollbackRecord {
    return { at: new Date(T0 - agoMs), alarmName: ALARM, eventId: "earlier-alarm-event", from: "3", to: "2" };
}

describe("events that are not ours to act on", () => {
    it.each([
        ["a non-event", null, "not a CloudWatch Alarm State Change event"],
        [
            "an OK transition",
            compositeAlarmEvent({ alarmName: ALARM, state: "OK", previousState: "ALARM", firedAt: new Date(FIRED_AT) }),
            "alarm state is OK, not ALARM",
        ],
        [
            "another stack's alarm",
            compositeAlarmEvent({ alarmName: "someone-elses-alarm", firedAt: new Date(FIRED_AT) }),
            `alarm 'someone-elses-alarm' is not this stack's alarm '${ALARM}'`,
        ],
        ["a succeeded reconcile build", buildStateChangeEvent({ projectName: RUNNER, status: "SUCCEEDED" }), "build status SUCCEEDED"],
        [
            "another project's failed build",
            buildStateChangeEvent({ projectName: "someone-elses-project", status: "FAILED" }),
            `build of project 'someone-elses-project', not '${RUNNER}'`,
        ],
    ])("ignores %s without a single AWS call, not even a claim", async (_, event, why) => {
        const ports = aws();

        const outcome = await handleTriggerEvent(event, settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why });
        expect(ports.calls).toEqual([]);
    });

    it("handleAlarmEvent takes alarms alone: a failed build's event is ignored, untold", async () => {
        const ports = aws();

        const outcome = await handleAlarmEvent(buildStateChangeEvent({ projectName: RUNNER, status: "FAILED" }), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: "not a CloudWatch Alarm State Change event" });
        expect(ports.calls).toEqual([]);
    });
});

describe("an alarm that passes every check", () => {
    it("SageMaker: claims the event until the longest Lambda timeout, restores v2 with the guardrails kept, starts one build, tells people once", async () => {
        const ports = aws();
        const event = alarmEvent();

        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

        const why = `endpoint ${ENDPOINT} moved to version 2; reconcile build ${RUNNER}:build-1 pins it in the stack`;
        expect(outcome).toEqual({ action: "rolled-back", why, buildId: `${RUNNER}:build-1` });
        expect(ports.methods()).toEqual([
            "claimEvent",
            "lastRollback",
            "triggerLastUpdated",
            "describeEndpoint",
            "rollbackTargetProblem",
            "claimRollback",
            "updateEndpoint",
            "recordIncidentStep",
            "startReconcile",
            "recordIncidentStep",
            "publish",
            "recordIncidentStep",
            "finishEvent",
        ]);
        expect(ports.argsOf("claimEvent")).toEqual([["event#alarm-event-1", new Date(T0), new Date(T0 + 15 * 60_000)]]);
        expect(ports.argsOf("rollbackTargetProblem")).toEqual([[CONFIG["2"], IMAGE_2]]);
        const record = { at: new Date(T0), alarmName: ALARM, eventId: "alarm-event-1", from: "3", to: "2", steps: { traffic: { state: "pending" } } };
        expect(ports.argsOf("claimRollback")).toEqual([[record, new Date(T0 - 1_800_000)]]);
        // Each step recorded in the incident's record once done, in order.
        expect(ports.argsOf("recordIncidentStep")).toEqual([
            ["alarm-event-1", { traffic: { state: "moved", how: `endpoint ${ENDPOINT} moved to version 2` } }],
            ["alarm-event-1", { buildId: `${RUNNER}:build-1` }],
            ["alarm-event-1", { told: "rolled-back" }],
        ]);
        expect(ports.rollback?.steps).toEqual({
            traffic: { state: "moved", how: `endpoint ${ENDPOINT} moved to version 2` },
            buildId: `${RUNNER}:build-1`,
            told: "rolled-back",
        });
        expect(ports.argsOf("updateEndpoint")).toEqual([[ENDPOINT, CONFIG["2"], GUARDRAILS]]);
        expect(ports.argsOf("startReconcile")).toEqual([[{ version: "2", alarmName: ALARM, eventId: "alarm-event-1" }]]);
        expect(ports.published).toEqual([{ subject: "mlops rolled back: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "rolled-back", why) }]);
        expect(ports.events.get("event#alarm-event-1")).toEqual({ claim: "handled" });
    });

    it("Kubernetes: starts the reconcile build and reads no endpoint", async () => {
        const ports = aws();
        const event = alarmEvent();

        const outcome = await handleAlarmEvent(event, settings(KUBERNETES), ports, ports.now);

        const why = `reconcile build ${RUNNER}:build-1 runs mlops rollback --version 2`;
        expect(outcome).toEqual({ action: "rolled-back", why, buildId: `${RUNNER}:build-1` });
        expect(ports.methods()).toEqual([
            "claimEvent",
            "lastRollback",
            "triggerLastUpdated",
            "claimRollback",
            "startReconcile",
            "recordIncidentStep",
            "publish",
            "recordIncidentStep",
            "finishEvent",
        ]);
        expect(ports.argsOf("claimRollback")[0][0]).toMatchObject({ steps: { traffic: { state: "with-build", how: "" } } });
        expect(ports.published).toEqual([{ subject: "mlops rolled back: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "rolled-back", why) }]);
    });

    it("cuts a notice's subject below SNS's 100 characters, marking the cut", async () => {
        const ports = aws();
        const model = "fraud-detector-with-a-model-name-long-enough-to-push-the-subject-past-what-sns-accepts";

        await handleAlarmEvent(alarmEvent(), settings({ model }), ports, ports.now);

        const subject = `mlops rolled back: ${model} (prod) 3 -> 2`;
        expect(subject.length).toBeGreaterThan(100);
        expect(ports.published.map((notice) => notice.subject)).toEqual([`${subject.slice(0, 96)}...`]);
        expect(ports.published[0].subject).toHaveLength(99);
    });
});

describe("refusals before anything changes", () => {
    it("no warm version precedes the pin: fails closed after reading only the rollback record (which this event does not own), and the notice names no target", async () => {
        const ports = aws();
        const event = alarmEvent();

        const outcome = await handleAlarmEvent(event, settings({ rollbackVersion: undefined }), ports, ports.now);

        const why = "no warm version precedes 3, so there is nothing to restore instantly; roll back by hand";
        expect(outcome).toEqual({ action: "failed-closed", why });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "publish", "finishEvent"]);
        expect(ports.published).toEqual([
            {
                subject: "mlops rollback refused: fraud-detector (prod) 3 -> none",
                message: incidentNotice(event, "failed-closed", why, { from: "3", to: null }),
            },
        ]);
    });

    it("ignores, quietly, an alarm that fired before the stack last updated the trigger (a new pin since)", async () => {
        const ports = aws();
        ports.triggerUpdated = new Date(FIRED_AT + 1);

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({
            action: "ignored",
            why: "stale: the alarm fired before the stack last updated this trigger (2026-11-27T08:59:00.001Z), e.g. for a new pin",
        });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "triggerLastUpdated", "finishEvent"]);
    });

    it("acts on an alarm that fired at the very moment the stack updated the trigger: only an older one is stale", async () => {
        const ports = aws();
        ports.triggerUpdated = new Date(FIRED_AT);

        expect((await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now)).action).toBe("rolled-back");
    });

    it("acts on the alarm when the trigger's last update is unknown (outside Lambda)", async () => {
        const ports = aws();
        ports.triggerUpdated = undefined;

        expect((await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now)).action).toBe("rolled-back");
    });
});

describe("the cooldown after an automatic rollback", () => {
    it("ignores, quietly, an alarm that fired before the last automatic rollback", async () => {
        const ports = aws();
        ports.rollback = rollbackOf3(T0 - FIRED_AT - 1);

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: "stale: the alarm fired before the last automatic rollback (2026-11-27T08:59:00.001Z)" });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "finishEvent"]);
    });

    it("an alarm that fired at the very moment of the last rollback is not older than it: the cooldown decides", async () => {
        const ports = aws();
        ports.rollback = rollbackOf3(T0 - FIRED_AT);

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: "the rollback 3 -> 2 of 60 s ago is still being reconciled" });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "finishEvent"]);
    });

    it("holds off the same incident, quietly, while its rollback is being reconciled (the pin is still the version it left)", async () => {
        const ports = aws();
        ports.rollback = rollbackOf3(600_000);

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: "the rollback 3 -> 2 of 600 s ago is still being reconciled" });
        expect(ports.published).toEqual([]);
    });

    it("skips a rollback of a rollback (the pin is the version it restored), and tells people", async () => {
        const ports = aws({ configName: CONFIG["2"] });
        ports.rollback = rollbackOf3(600_000);
        const event = alarmEvent();
        const onV2 = settings({ pinnedVersion: "2", rollbackVersion: "1", pinnedConfigName: CONFIG["2"], rollbackConfigName: "fraud-detector-1-config" });

        const outcome = await handleAlarmEvent(event, onV2, ports, ports.now);

        const why =
            "version 2 was restored by a rollback 600 s ago and is failing too; no rollback of a rollback within the 1800 s cooldown; roll back by hand (mlops rollback) if it must go";
        expect(outcome).toEqual({ action: "skipped", why });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "publish", "finishEvent"]);
        expect(ports.published).toEqual([
            { subject: "mlops rollback skipped: fraud-detector (prod) 2 -> 1", message: incidentNotice(event, "skipped", why, { from: "2", to: "1" }) },
        ]);
    });

    it("a release deployed after the last rollback gets its own rollback, inside the cooldown", async () => {
        // 3 -> 2 ten minutes ago; 3 quarantined by the reconcile; 4 deployed five minutes ago, and it fails.
        const ports = aws({ configName: CONFIG["4"], lastModified: new Date(T0 - 300_000) });
        ports.rollback = rollbackOf3(600_000);
        const on4 = settings({ pinnedVersion: "4", pinnedConfigName: CONFIG["4"] });

        const outcome = await handleAlarmEvent(alarmEvent(), on4, ports, ports.now);

        expect(outcome.action).toBe("rolled-back");
        expect(ports.argsOf("updateEndpoint")).toEqual([[ENDPOINT, CONFIG["2"], GUARDRAILS]]);
        expect(ports.rollback).toMatchObject({ at: new Date(T0), alarmName: ALARM, eventId: "alarm-event-1", from: "4", to: "2" });
    });

    it("once the cooldown has passed, the same pin rolls back again", async () => {
        const ports = aws();
        ports.rollback = rollbackOf3(1_800_001);

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome.action).toBe("rolled-back");
        expect(ports.argsOf("updateEndpoint")).toEqual([[ENDPOINT, CONFIG["2"], GUARDRAILS]]);
    });

    it("at exactly the cooldown's end still holds the alarm off, as the conditional write would (a rollback at notBefore still counts), saying why", async () => {
        const ports = aws();
        ports.rollback = rollbackOf3(1_800_000);

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: "the rollback 3 -> 2 of 1800 s ago is still being reconciled" });
        expect(ports.methods()).not.toContain("claimRollback");
        expect(ports.methods()).not.toContain("updateEndpoint");
        expect(ports.published).toEqual([]);
    });

    it("one millisecond after the cooldown's end, rolls back again", async () => {
        const ports = aws();
        ports.rollback = rollbackOf3(1_800_001);

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toMatchObject({ action: "rolled-back" });
        expect(ports.argsOf("updateEndpoint")).toHaveLength(1);
    });

    it("two events of one incident racing past the checks restore once: the one that loses the cooldown claim stands down quietly", async () => {
        const ports = aws();
        const [first, second] = [alarmEvent(FIRED_AT, "alarm-event-1"), alarmEvent(FIRED_AT + 500, "alarm-event-2")];

        const outcomes = await Promise.all([first, second].map((event) => handleAlarmEvent(event, settings(), ports, ports.now)));

        expect(outcomes).toEqual([
            { action: "rolled-back", why: expect.stringMatching(/^endpoint .* moved to version 2/), buildId: `${RUNNER}:build-1` },
            { action: "ignored", why: "another delivery of this incident claimed the rollback first" },
        ]);
        expect(ports.argsOf("claimRollback")).toHaveLength(2);
        expect(ports.argsOf("updateEndpoint")).toHaveLength(1);
        expect(ports.argsOf("startReconcile")).toHaveLength(1);
        expect(ports.published.map((notice) => notice.subject)).toEqual(["mlops rolled back: fraud-detector (prod) 3 -> 2"]);
        expect(ports.events.get("event#alarm-event-2")).toEqual({ claim: "handled" });
    });
});

describe("the endpoint's state (SageMaker)", () => {
    it.each(["Updating", "Deleting"])(
        "leaves an endpoint that stays %s through every re-check alone, says how often it looked, and tells people",
        async (status) => {
            const ports = aws({ status });
            const event = alarmEvent();

            const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

            const why = `endpoint ${ENDPOINT} is ${status}: SageMaker is already changing it (its guardrails may be rolling back); checked 3 times`;
            expect(outcome).toEqual({ action: "skipped", why });
            expect(ports.argsOf("describeEndpoint")).toEqual([[ENDPOINT], [ENDPOINT], [ENDPOINT]]);
            expect(ports.argsOf("sleep")).toEqual([[20_000], [20_000]]);
            expect(ports.methods()).not.toContain("claimRollback");
            expect(ports.published).toEqual([
                { subject: "mlops rollback skipped: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "skipped", why) },
            ]);
        },
    );

    it("ignores, quietly, an alarm that fired before the endpoint last changed", async () => {
        const ports = aws({ lastModified: new Date(FIRED_AT + 1) });

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: "stale: the alarm fired before the endpoint last changed (2026-11-27T08:59:00.001Z)" });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "triggerLastUpdated", "describeEndpoint", "finishEvent"]);
    });

    it("acts on an alarm that fired at the very moment the endpoint last changed: only an older one is stale", async () => {
        const ports = aws({ lastModified: new Date(FIRED_AT) });

        expect((await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now)).action).toBe("rolled-back");
    });

    it("ignores, quietly, an alarm when the endpoint already serves the rollback version", async () => {
        const ports = aws({ configName: CONFIG["2"] });

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: `endpoint ${ENDPOINT} already serves version 2` });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "triggerLastUpdated", "describeEndpoint", "finishEvent"]);
    });

    it("fails closed, touching nothing, when someone pointed the endpoint at a config outside the stack", async () => {
        const ports = aws({ configName: "fraud-detector-hand-made-config" });
        const event = alarmEvent();

        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

        const why = `endpoint ${ENDPOINT} serves config fraud-detector-hand-made-config, not the pinned version's ${CONFIG["3"]}: someone changed it outside the stack; not touching it`;
        expect(outcome).toEqual({ action: "failed-closed", why });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "triggerLastUpdated", "describeEndpoint", "publish", "finishEvent"]);
        expect(ports.published).toEqual([
            { subject: "mlops rollback refused: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "failed-closed", why) },
        ]);
    });

    it("fails closed, claiming no cooldown, when the rollback target cannot serve", async () => {
        const ports = aws();
        ports.targetProblem = `model fraud-detector-2-model does not exist`;

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "failed-closed", why: "version 2 cannot serve: model fraud-detector-2-model does not exist; nothing was changed" });
        expect(ports.methods()).not.toContain("claimRollback");
        expect(ports.rollback).toBeUndefined();
    });
});

describe("failures after the checks", () => {
    it("UpdateEndpoint failing gives the cooldown back, starts no build, and tells people the endpoint still serves the pin", async () => {
        const ports = aws();
        ports.failing.set("updateEndpoint", new Error("Cannot update in-progress endpoint"));
        const event = alarmEvent();

        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

        const why = "UpdateEndpoint to version 2 failed (Cannot update in-progress endpoint); the endpoint still serves 3";
        expect(outcome).toEqual({ action: "failed", why });
        const record = { at: new Date(T0), alarmName: ALARM, eventId: "alarm-event-1", from: "3", to: "2", steps: { traffic: { state: "pending" } } };
        expect(ports.argsOf("releaseRollback")).toEqual([[record]]);
        expect(ports.rollback).toBeUndefined();
        expect(ports.methods().slice(-4)).toEqual(["updateEndpoint", "releaseRollback", "publish", "finishEvent"]);
        expect(ports.published).toEqual([{ subject: "mlops rollback failed: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "failed", why) }]);
    });

    it.each([
        [
            "SageMaker",
            {},
            'traffic is on 2, but the reconcile build did not start (Rate exceeded); the trigger starts it on Lambda\'s retries of this event and says so; if no "rolled back" notice follows, finish it by hand with mlops rollback --stack prod --version 2 --expect-from 3 --after-fast-path',
        ],
        [
            "Kubernetes",
            KUBERNETES,
            'nothing changed: traffic is still on 3; the reconcile build did not start (Rate exceeded); the trigger starts it on Lambda\'s retries of this event and says so; if no "rolled back" notice follows, finish it by hand with mlops rollback --stack prod --version 2 --expect-from 3',
        ],
    ])(
        "%s: the reconcile build not starting keeps the cooldown, tells people once, and fails the invocation so that Lambda retries it",
        async (_, target, why) => {
            const ports = aws();
            ports.failing.set("startReconcile", Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
            const event = alarmEvent();

            const failure = await handleAlarmEvent(event, settings(target), ports, ports.now).catch((error: unknown) => error);

            expect(failure).toBeInstanceOf(UnfinishedIncidentError);
            expect((failure as Error).message).toBe(`rollback 3 -> 2 of fraud-detector (prod), alarm event alarm-event-1: ${why}`);
            expect(ports.methods()).not.toContain("releaseRollback");
            expect(ports.rollback?.eventId).toBe("alarm-event-1");
            expect(ports.rollback?.steps).toMatchObject({ told: "build-not-started" });
            expect(ports.rollback?.steps?.buildId).toBeUndefined();
            // The event's claim is let go, so that Lambda's retry starts at once.
            expect(ports.events.has("event#alarm-event-1")).toBe(false);
            expect(ports.published).toEqual([
                { subject: "mlops rollback failed: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "failed", why) },
            ]);
        },
    );

    it("a port throwing drops this delivery's own claim and fails the invocation, so that Lambda's retry handles the event at once", async () => {
        const ports = aws();
        ports.failing.set("describeEndpoint", Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
        const event = alarmEvent();

        await expect(handleAlarmEvent(event, settings(), ports, ports.now)).rejects.toThrow("Rate exceeded");
        expect(ports.argsOf("releaseEvent")).toEqual([["event#alarm-event-1", "token-1"]]);
        expect(ports.events.has("event#alarm-event-1")).toBe(false);
        expect(ports.published).toEqual([]);

        ports.failing.delete("describeEndpoint");
        expect((await handleAlarmEvent(event, settings(), ports, ports.now)).action).toBe("rolled-back");
        expect(ports.methods()).not.toContain("sleep");
    });

    it("the work done and told, DynamoDB failing to record it handled does not fail the invocation (a Lambda retry would tell people again)", async () => {
        const ports = aws();
        ports.failing.set("finishEvent", new Error("Throughput exceeds the current capacity"));

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({
            action: "rolled-back",
            why: `endpoint ${ENDPOINT} moved to version 2; reconcile build ${RUNNER}:build-1 pins it in the stack (not recorded as handled: Throughput exceeds the current capacity; a redelivery after this invocation's timeout repeats it)`,
            buildId: `${RUNNER}:build-1`,
        });
        expect(ports.methods()).not.toContain("releaseEvent");
        expect(ports.published).toHaveLength(1);
    });
});

describe("an incident's steps: what remains, and which notice is due (trigger/incident.ts)", () => {
    const moved = { state: "moved", how: "endpoint moved to version 2" } as const;
    it.each([
        // The worked example of remainingSteps' doc comment, row by row.
        ["a new incident, SageMaker", { traffic: { state: "pending" } }, true, ["switch", "build", "notify"]],
        ["Kubernetes without the instant switch", { traffic: { state: "with-build", how: "" } }, true, ["build", "notify"]],
        ["SNS failed once", { traffic: moved, buildId: "b-1" }, true, ["notify"]],
        ["StartBuild failed, people told", { traffic: moved, told: "build-not-started" }, true, ["build", "notify"]],
        ["done; died before recording the event handled", { traffic: moved, buildId: "b-1", told: "rolled-back" }, true, []],
        ["the stack moved on", { traffic: { state: "pending" } }, false, ["notify"]],
        ["told, and the stack moved on", { traffic: moved, told: "build-not-started" }, false, []],
    ] as const)("remainingSteps: %s", (_, steps, settingsCurrent, remaining) => {
        expect(remainingSteps(steps, settingsCurrent)).toEqual(remaining);
    });

    it.each([
        [true, undefined, "rolled-back"],
        [true, "build-not-started", "rolled-back"],
        [true, "rolled-back", undefined],
        [false, undefined, "build-not-started"],
        [false, "build-not-started", undefined],
    ] as const)("noticeDue: build started %s, told %s: %s", (buildStarted, told, due) => {
        expect(noticeDue(buildStarted, told)).toBe(due);
    });
});

describe("a retry of the incident's own event finishes it (issue 23, item 2)", () => {
    const KMS_THROTTLED = () => Object.assign(new Error("Rate exceeded for KMS key"), { name: "KMSThrottlingException" });
    const MOVED = { state: "moved", how: `endpoint ${ENDPOINT} moved to version 2` } as const;

    /** The incident record alarm-event-1 claimed at T0, with `steps` done. */
    function incidentOf(steps: IncidentSteps, from = "3"): RollbackRecord {
        return { at: new Date(T0), alarmName: ALARM, eventId: "alarm-event-1", from, to: "2", steps };
    }

    it("SNS failing once (a throttled KMS key): the invocation fails carrying the notice; Lambda's retry tells people once, and switches and builds nothing more", async () => {
        const ports = aws();
        ports.failing.set("publish", KMS_THROTTLED());
        const event = alarmEvent();

        const failure = await handleAlarmEvent(event, settings(), ports, ports.now).catch((error: unknown) => error);

        const why = `endpoint ${ENDPOINT} moved to version 2; reconcile build ${RUNNER}:build-1 pins it in the stack`;
        expect(failure).toBeInstanceOf(NoticeNotSentError);
        expect((failure as Error).message).toBe(
            `the notice "mlops rolled back: fraud-detector (prod) 3 -> 2" was not sent (Rate exceeded for KMS key): ${why}`,
        );
        expect(ports.rollback?.steps).toEqual({ traffic: MOVED, buildId: `${RUNNER}:build-1` });
        expect(ports.events.has("event#alarm-event-1")).toBe(false);

        // Lambda's retry, a minute later: the same event.
        ports.failing.delete("publish");
        ports.clock += 60_000;
        const calls = ports.calls.length;
        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "rolled-back", why, buildId: `${RUNNER}:build-1` });
        expect(ports.methods().slice(calls)).toEqual(["claimEvent", "lastRollback", "publish", "recordIncidentStep", "finishEvent"]);
        expect(ports.argsOf("updateEndpoint")).toHaveLength(1);
        expect(ports.argsOf("startReconcile")).toHaveLength(1);
        expect(ports.published).toEqual([{ subject: "mlops rolled back: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "rolled-back", why) }]);
        expect(ports.rollback?.steps?.told).toBe("rolled-back");
    });

    it("Kubernetes, SNS failing once: the retry tells people once and starts no second build", async () => {
        const ports = aws();
        ports.failing.set("publish", KMS_THROTTLED());
        const event = alarmEvent();
        await expect(handleAlarmEvent(event, settings(KUBERNETES), ports, ports.now)).rejects.toThrow(NoticeNotSentError);

        ports.failing.delete("publish");
        const outcome = await handleAlarmEvent(event, settings(KUBERNETES), ports, ports.now);

        expect(outcome.action).toBe("rolled-back");
        expect(ports.argsOf("startReconcile")).toHaveLength(1);
        expect(ports.published).toHaveLength(1);
    });

    it("StartBuild and SNS both failing (the issue's case): the invocation fails saying traffic is switched and no build runs; the retry starts the build and tells people once", async () => {
        const ports = aws();
        ports.failing.set("startReconcile", Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
        ports.failing.set("publish", KMS_THROTTLED());
        const event = alarmEvent();

        const failure = await handleAlarmEvent(event, settings(), ports, ports.now).catch((error: unknown) => error);

        // What reaches the dead-letter queue (the error's message) says where traffic is and how to finish by hand.
        expect(failure).toBeInstanceOf(NoticeNotSentError);
        expect((failure as Error).message).toBe(
            'the notice "mlops rollback failed: fraud-detector (prod) 3 -> 2" was not sent (Rate exceeded for KMS key): traffic is on 2, but the reconcile build did not start (Rate exceeded); the trigger starts it on Lambda\'s retries of this event and says so; if no "rolled back" notice follows, finish it by hand with mlops rollback --stack prod --version 2 --expect-from 3 --after-fast-path',
        );
        expect(ports.rollback?.steps).toEqual({ traffic: MOVED });

        ports.failing.clear();
        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

        expect(outcome).toEqual({
            action: "rolled-back",
            why: `endpoint ${ENDPOINT} moved to version 2; reconcile build ${RUNNER}:build-1 pins it in the stack`,
            buildId: `${RUNNER}:build-1`,
        });
        expect(ports.argsOf("updateEndpoint")).toHaveLength(1);
        expect(ports.argsOf("startReconcile")).toHaveLength(2);
        expect(ports.published.map((notice) => notice.subject)).toEqual(["mlops rolled back: fraud-detector (prod) 3 -> 2"]);
    });

    it("StartBuild failing once: people are told it did not start, then, once a retry starts it, that it did; a redelivery after that changes nothing", async () => {
        const ports = aws();
        ports.failing.set("startReconcile", new Error("AccountLimitExceededException: one build at a time"));
        const event = alarmEvent();
        await expect(handleAlarmEvent(event, settings(), ports, ports.now)).rejects.toThrow(UnfinishedIncidentError);

        ports.failing.delete("startReconcile");
        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);
        const again = await handleAlarmEvent(event, settings(), ports, ports.now);

        expect(outcome.why).toBe(
            `endpoint ${ENDPOINT} moved to version 2; reconcile build ${RUNNER}:build-1 pins it in the stack (started by a retry of this event, after the notice that it had not)`,
        );
        expect(again).toEqual({ action: "ignored", why: "event alarm-event-1 was handled before (EventBridge redelivery)" });
        expect(ports.published.map((notice) => notice.subject)).toEqual([
            "mlops rollback failed: fraud-detector (prod) 3 -> 2",
            "mlops rolled back: fraud-detector (prod) 3 -> 2",
        ]);
        expect(ports.argsOf("updateEndpoint")).toHaveLength(1);
    });

    it("StartBuild failing on every attempt: told once, and each of Lambda's three attempts fails with where things stand (the dead-letter queue keeps the last)", async () => {
        const ports = aws();
        ports.failing.set("startReconcile", new Error("AccessDeniedException"));
        const event = alarmEvent();

        const failures = [];
        for (let attempt = 0; attempt < 3; attempt++)
            failures.push(await handleAlarmEvent(event, settings(), ports, ports.now).catch((error: unknown) => error));

        expect(failures.map((failure) => (failure as Error).name)).toEqual(Array(3).fill("UnfinishedIncidentError"));
        expect(new Set(failures.map((failure) => (failure as Error).message)).size).toBe(1);
        expect((failures[2] as Error).message).toContain("traffic is on 2, but the reconcile build did not start (AccessDeniedException)");
        expect((failures[2] as Error).message).toContain("mlops rollback --stack prod --version 2 --expect-from 3 --after-fast-path");
        expect(ports.argsOf("updateEndpoint")).toHaveLength(1);
        expect(ports.argsOf("startReconcile")).toHaveLength(3);
        expect(ports.published.map((notice) => notice.subject)).toEqual(["mlops rollback failed: fraud-detector (prod) 3 -> 2"]);
    });

    it("a delivery killed after its UpdateEndpoint and before recording it: the retry finds traffic on 2, records it, builds and tells, with no second switch", async () => {
        // The endpoint went to 2 a second after the claim (the killed delivery's switch); the record still says pending.
        const ports = aws({ configName: CONFIG["2"], lastModified: new Date(T0 + 1_000) });
        ports.rollback = incidentOf({ traffic: { state: "pending" } });
        ports.clock += 60_000;

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({
            action: "rolled-back",
            why: `endpoint ${ENDPOINT} already serves version 2 (found so by a retry of this event); reconcile build ${RUNNER}:build-1 pins it in the stack`,
            buildId: `${RUNNER}:build-1`,
        });
        expect(ports.methods()).not.toContain("updateEndpoint");
        expect(ports.methods()).not.toContain("triggerLastUpdated");
        expect(ports.argsOf("startReconcile")).toHaveLength(1);
        expect(ports.published).toHaveLength(1);
        expect(ports.rollback?.steps?.traffic).toEqual({
            state: "moved",
            how: `endpoint ${ENDPOINT} already serves version 2 (found so by a retry of this event)`,
        });
    });

    it("killed before its UpdateEndpoint landed: the retry makes the one switch", async () => {
        const ports = aws();
        ports.rollback = incidentOf({ traffic: { state: "pending" } });

        expect((await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now)).action).toBe("rolled-back");
        expect(ports.argsOf("updateEndpoint")).toEqual([[ENDPOINT, CONFIG["2"], GUARDRAILS]]);
    });

    it("killed after its switch while SageMaker still updates the endpoint: the retry neither switches again nor gives the incident up, and fails so that a later one looks again", async () => {
        const ports = aws({ status: "Updating", lastModified: new Date(T0) });
        ports.rollback = incidentOf({ traffic: { state: "pending" } });

        await expect(handleAlarmEvent(alarmEvent(), settings(), ports, ports.now)).rejects.toThrow(
            `rollback 3 -> 2 of fraud-detector (prod), alarm event alarm-event-1: endpoint ${ENDPOINT} is Updating: SageMaker is already changing it (its guardrails may be rolling back); checked 3 times; its switch may be under way, so a later retry looks again`,
        );
        expect(ports.methods()).not.toContain("updateEndpoint");
        expect(ports.methods()).not.toContain("releaseRollback");
        expect(ports.rollback?.steps).toEqual({ traffic: { state: "pending" } });
    });

    it("killed after every step, before recording the event handled: the retry does nothing and tells nobody", async () => {
        const ports = aws({ configName: CONFIG["2"], lastModified: new Date(T0) });
        ports.rollback = incidentOf({ traffic: MOVED, buildId: `${RUNNER}:build-7`, told: "rolled-back" });

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: "every step of the rollback 3 -> 2 (event alarm-event-1) was done by an earlier delivery" });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "finishEvent"]);
    });

    it("the stack updated since (a pulumi up pins 4 now): the retry never switches or builds from the new settings, and tells what is left in the incident's own versions", async () => {
        const ports = aws({ configName: CONFIG["4"] });
        ports.rollback = incidentOf({ traffic: { state: "pending" } });
        const event = alarmEvent();
        const on4 = settings({ pinnedVersion: "4", pinnedConfigName: CONFIG["4"], rollbackVersion: "3", rollbackConfigName: CONFIG["3"] });

        const outcome = await handleAlarmEvent(event, on4, ports, ports.now);

        const why =
            "nothing changed: traffic is still on 3; the reconcile build never started; the stack has been updated since (it pins 4 now), so the trigger leaves the rest to that update; mlops status --stack prod shows what serves";
        expect(outcome).toEqual({ action: "failed", why });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "publish", "recordIncidentStep", "finishEvent"]);
        expect(ports.published).toEqual([{ subject: "mlops rollback failed: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "failed", why) }]);
    });

    it("another event of the same incident leaves an unfinished incident to its own event's retries", async () => {
        const ports = aws();
        ports.rollback = { ...incidentOf({ traffic: MOVED, told: "build-not-started" }), at: new Date(FIRED_AT - 30_000) };

        const outcome = await handleAlarmEvent(alarmEvent(FIRED_AT, "alarm-event-2"), settings(), ports, ports.now);

        expect(outcome).toEqual({
            action: "ignored",
            why: "the rollback 3 -> 2 of 90 s ago is still being reconciled; that incident (event alarm-event-1) is unfinished: its own event's retries finish it, else the trigger's dead-letter queue keeps it",
        });
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "finishEvent"]);
    });

    it("a step whose record was taken by another event meanwhile is still done, and the outcome says it was not recorded", async () => {
        const ports = aws();
        ports.recordIncidentStep = () => Promise.resolve(false);

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(outcome.why).toBe(
            `endpoint ${ENDPOINT} moved to version 2; reconcile build ${RUNNER}:build-1 pins it in the stack (traffic, buildId not recorded: the rollback record belongs to another event now)`,
        );
        expect(ports.published).toHaveLength(1);
    });
});

describe("a retry of an unfinished incident's event passes every filter for fresh events (adversarial review, finding A)", () => {
    const THROTTLED = () => Object.assign(new Error("Throttling: Rate exceeded"), { name: "ThrottlingException" });
    const WHY = `endpoint ${ENDPOINT} moved to version 2; reconcile build ${RUNNER}:build-1 pins it in the stack`;

    /** The first delivery at FIRED_AT + 5 s: traffic moves and the build starts, then SNS refuses and the invocation fails. */
    async function firstDeliveryFailsToTell(ports: InMemoryTriggerPorts, event: ReturnType<typeof alarmEvent>, forSettings: TriggerSettings) {
        ports.clock = FIRED_AT + 5_000;
        ports.failing.set("publish", THROTTLED());
        await expect(handleAlarmEvent(event, forSettings, ports, ports.now)).rejects.toThrow(NoticeNotSentError);
        ports.failing.delete("publish");
        expect(ports.rollback?.steps?.buildId).toBe(`${RUNNER}:build-1`);
    }

    it.each([
        ["the reviewer's input: 905 s after the alarm fired, 900 s allowed", 900, 905_000],
        ["a variant: 70 s after, with maxEventAgeSeconds 60", 60, 70_000],
    ])("%s: the retry tells people once, switching and building nothing more", async (_, maxEventAgeSeconds, retryAfterMs) => {
        const ports = aws();
        const event = alarmEvent();
        const s = settings({ maxEventAgeSeconds });
        await firstDeliveryFailsToTell(ports, event, s);

        ports.clock = FIRED_AT + retryAfterMs;
        const calls = ports.calls.length;
        const outcome = await handleAlarmEvent(event, s, ports, ports.now);

        expect(outcome).toEqual({ action: "rolled-back", why: WHY, buildId: `${RUNNER}:build-1` });
        expect(ports.methods().slice(calls)).toEqual(["lastRollback", "claimEvent", "lastRollback", "publish", "recordIncidentStep", "finishEvent"]);
        expect(ports.published).toEqual([{ subject: "mlops rolled back: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "rolled-back", WHY) }]);
        expect(ports.argsOf("updateEndpoint")).toHaveLength(1);
        expect(ports.argsOf("startReconcile")).toHaveLength(1);
        expect(ports.rollback?.steps?.told).toBe("rolled-back");
    });

    it("a variant: stale, and the trigger's Lambda updated since the alarm fired (same pin): the retry still finishes it", async () => {
        const ports = aws();
        const event = alarmEvent();
        await firstDeliveryFailsToTell(ports, event, settings());

        ports.triggerUpdated = new Date(FIRED_AT + 120_000);
        ports.clock = FIRED_AT + 905_000;
        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "rolled-back", why: WHY, buildId: `${RUNNER}:build-1` });
        expect(ports.published).toHaveLength(1);
        expect(ports.argsOf("triggerLastUpdated")).toHaveLength(1);
    });

    it("a variant: stale, with StartBuild failing on the first delivery: the retry starts the build and says so", async () => {
        const ports = aws();
        const event = alarmEvent();
        ports.clock = FIRED_AT + 5_000;
        ports.failing.set("startReconcile", THROTTLED());
        await expect(handleAlarmEvent(event, settings(), ports, ports.now)).rejects.toThrow(UnfinishedIncidentError);
        ports.failing.delete("startReconcile");

        ports.clock = FIRED_AT + 905_000;
        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

        expect(outcome.action).toBe("rolled-back");
        expect(ports.argsOf("startReconcile")).toHaveLength(2);
        expect(ports.published.map((notice) => notice.subject)).toEqual([
            "mlops rollback failed: fraud-detector (prod) 3 -> 2",
            "mlops rolled back: fraud-detector (prod) 3 -> 2",
        ]);
    });

    it("a variant: a pulumi up since left no warm version: the retry tells the incident's own rolled-back notice, not 'no warm version'", async () => {
        const ports = aws();
        const event = alarmEvent();
        await firstDeliveryFailsToTell(ports, event, settings());

        ports.clock += 60_000;
        const outcome = await handleAlarmEvent(event, settings({ rollbackVersion: undefined }), ports, ports.now);

        expect(outcome.action).toBe("rolled-back");
        expect(ports.published.map((notice) => notice.subject)).toEqual(["mlops rolled back: fraud-detector (prod) 3 -> 2"]);
    });

    it("a stale event that owns no incident is ignored after one read of the rollback record, claiming nothing", async () => {
        const ports = aws();
        ports.rollback = { ...rollbackOf3(60_000), steps: { traffic: { state: "moved", how: "x" } } };

        const outcome = await handleAlarmEvent(alarmEvent(T0 - 905_000), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: "stale: the alarm fired 905 s ago, more than the 900 s an event stays actionable" });
        expect(ports.methods()).toEqual(["lastRollback"]);
    });

    it("a stale event whose incident another delivery finished meanwhile (between the read and the claim) is ignored as stale", async () => {
        const ports = aws();
        ports.rollback = { at: new Date(FIRED_AT), alarmName: ALARM, eventId: "alarm-event-1", from: "3", to: "2", steps: { traffic: { state: "pending" } } };
        const claimEvent = ports.claimEvent.bind(ports);
        ports.claimEvent = (...args) => {
            ports.rollback = undefined;
            return claimEvent(...args);
        };

        const outcome = await handleAlarmEvent(alarmEvent(T0 - 901_000), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: "stale: the alarm fired 901 s ago, more than the 900 s an event stays actionable" });
        expect(ports.published).toEqual([]);
        expect(ports.argsOf("updateEndpoint")).toEqual([]);
    });
});

describe("a retry whose record lacks the build id finds the build before starting one (adversarial review, finding B)", () => {
    const THROTTLED = () => Object.assign(new Error("Throttling: Rate exceeded"), { name: "ThrottlingException" });
    const WHY = `endpoint ${ENDPOINT} moved to version 2; reconcile build ${RUNNER}:build-1 pins it in the stack`;

    /** The first delivery: traffic moves and the build starts, but DynamoDB refuses the build id's write and SNS the notice. */
    async function buildStartedNotRecorded(ports: InMemoryTriggerPorts, event: ReturnType<typeof alarmEvent>) {
        const record = ports.recordIncidentStep.bind(ports);
        ports.recordIncidentStep = (eventId, step) => ("buildId" in step ? Promise.reject(THROTTLED()) : record(eventId, step));
        ports.failing.set("publish", THROTTLED());
        await expect(handleAlarmEvent(event, settings(), ports, ports.now)).rejects.toThrow(NoticeNotSentError);
        ports.recordIncidentStep = record;
        ports.failing.delete("publish");
        expect(ports.rollback?.steps).toEqual({ traffic: { state: "moved", how: `endpoint ${ENDPOINT} moved to version 2` } });
    }

    it.each([
        ["the reviewer's case: 6 minutes later, past CodeBuild's 5-minute idempotency token", 6 * 60_000],
        ["a variant: an EventBridge redelivery 3 hours later", 3 * 3600_000],
    ])("%s: the retry records the first build and starts none", async (_, laterMs) => {
        const ports = aws();
        const event = alarmEvent();
        await buildStartedNotRecorded(ports, event);

        ports.clock += laterMs;
        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "rolled-back", why: WHY, buildId: `${RUNNER}:build-1` });
        expect(ports.argsOf("startReconcile")).toHaveLength(1);
        expect(ports.builds).toEqual([{ buildId: `${RUNNER}:build-1`, eventId: "alarm-event-1" }]);
        expect(ports.rollback?.steps).toMatchObject({ buildId: `${RUNNER}:build-1`, told: "rolled-back" });
        expect(ports.published.map((notice) => notice.subject)).toEqual(["mlops rolled back: fraud-detector (prod) 3 -> 2"]);
    });

    it("the lookup failing (throttled, or a role without the permission) within the token's 5 minutes: StartBuild's token answers with the same build", async () => {
        const ports = aws();
        const event = alarmEvent();
        await buildStartedNotRecorded(ports, event);
        ports.failing.set("findReconcile", THROTTLED());

        ports.clock += 60_000;
        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "rolled-back", why: WHY, buildId: `${RUNNER}:build-1` });
        expect(ports.argsOf("startReconcile")).toHaveLength(2);
        expect(ports.builds).toHaveLength(1);
    });

    it("a first delivery never looks (no earlier delivery can have started a build): claim, switch, StartBuild", async () => {
        const ports = aws();

        await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now);

        expect(ports.argsOf("findReconcile")).toEqual([]);
    });
});

describe("waiting for another delivery's claim on the event", () => {
    const KEY = "event#alarm-event-1";

    it("waits out a dead delivery's claim, looking again a second after its lease ends, then takes it over", async () => {
        const ports = aws();
        ports.events.set(KEY, { claim: "claimed", token: "dead-delivery", leaseUntil: new Date(T0 + 3_000) });

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now, new Date(T0 + 60_000));

        expect(outcome.action).toBe("rolled-back");
        expect(ports.argsOf("sleep")).toEqual([[4_000]]);
        expect(ports.argsOf("claimEvent")).toEqual([
            [KEY, new Date(T0), new Date(T0 + 60_000)],
            [KEY, new Date(T0 + 4_000), new Date(T0 + 60_000)],
        ]);
    });

    it("looks again every 5 s while a live delivery holds the claim, and stands down once that one records the event handled", async () => {
        const ports = aws();
        ports.events.set(KEY, { claim: "claimed", token: "live-delivery", leaseUntil: new Date(T0 + 60_000) });
        ports.when(T0 + 8_000, () => ports.events.set(KEY, { claim: "handled" }));

        const outcome = await handleAlarmEvent(alarmEvent(), settings(), ports, ports.now, new Date(T0 + 120_000));

        expect(outcome).toEqual({ action: "ignored", why: "event alarm-event-1 was handled before (EventBridge redelivery)" });
        expect(ports.argsOf("sleep")).toEqual([[5_000], [5_000]]);
        expect(ports.methods()).toEqual(["claimEvent", "sleep", "claimEvent", "sleep", "claimEvent"]);
    });

    it("gives up a second before its own deadline, sleeping no later than that, so that Lambda retries it", async () => {
        const ports = aws();
        ports.events.set(KEY, { claim: "claimed", token: "live-delivery", leaseUntil: new Date(T0 + 60_000) });

        await expect(handleAlarmEvent(alarmEvent(), settings(), ports, ports.now, new Date(T0 + 3_000))).rejects.toThrow(
            `${KEY} is still being handled by another delivery (its claim lasts until 2026-11-27T09:01:00.000Z); failing before this invocation's deadline so that Lambda retries it`,
        );
        expect(ports.argsOf("sleep")).toEqual([[2_000]]);
        expect(ports.methods()).not.toContain("releaseEvent");
    });

    it("times its wait by what it slept when `now` stands still: takes the claim over after the lease, gives up before the deadline", async () => {
        // A clock that does not move while the handler sleeps (as in a test, or a frozen clock): the sleeps still count.
        const frozen = () => new Date(T0);
        const ports = aws();
        ports.events.set(KEY, { claim: "claimed", token: "dead-delivery", leaseUntil: new Date(T0 + 3_000) });

        expect((await handleAlarmEvent(alarmEvent(), settings(), ports, frozen, new Date(T0 + 60_000))).action).toBe("rolled-back");
        expect(ports.argsOf("claimEvent").map(([, now]) => now)).toEqual([new Date(T0), new Date(T0 + 4_000)]);

        const late = aws();
        late.events.set(KEY, { claim: "claimed", token: "live-delivery", leaseUntil: new Date(T0 + 60_000) });
        await expect(handleAlarmEvent(alarmEvent(), settings(), late, frozen, new Date(T0 + 12_000))).rejects.toThrow(
            "is still being handled by another delivery",
        );
        expect(late.argsOf("sleep")).toEqual([[5_000], [5_000], [1_000]]);
    });

    it("with under a second left it fails at once, without waiting", async () => {
        const ports = aws();
        ports.events.set(KEY, { claim: "claimed", token: "live-delivery", leaseUntil: new Date(T0 + 60_000) });

        await expect(handleAlarmEvent(alarmEvent(), settings(), ports, ports.now, new Date(T0 + 500))).rejects.toThrow(
            "is still being handled by another delivery",
        );
        expect(ports.methods()).toEqual(["claimEvent"]);
    });
});

describe("a reconcile build that failed or stopped", () => {
    /** A build-end event of the runner; without `MLOPS_ALARM_NAME` in its environment when `alarm` is false. */
    function buildEnd(options: { status: string; from?: string; to?: string; alarm?: boolean }) {
        const event = buildStateChangeEvent({ projectName: RUNNER, ...options });
        if (options.alarm === false) {
            const environment = event.detail["additional-information"].environment;
            environment["environment-variables"] = environment["environment-variables"].filter((variable) => variable.name !== "MLOPS_ALARM_NAME");
        }
        return event;
    }

    it("SageMaker: tells people traffic is restored but the pin is not, with the command that finishes it", async () => {
        const ports = aws();
        const event = buildEnd({ status: "FAILED", from: "3", to: "2" });
        const buildId = event.detail["build-id"];

        const outcome = await handleTriggerEvent(event, settings(), ports, ports.now);

        const why = `reconcile build ${buildId} failed: traffic is on 2 (restored by the alarm trigger), but the stack still pins 3 and has not quarantined it; finish it by hand with mlops rollback --stack prod --version 2 --expect-from 3 --after-fast-path`;
        expect(outcome).toEqual({ action: "failed", why });
        expect(ports.methods()).toEqual(["claimEvent", "publish", "finishEvent"]);
        expect(ports.argsOf("claimEvent")[0][0]).toBe(`build#${buildId}`);
        expect(ports.published).toEqual([
            {
                subject: "mlops reconcile failed: fraud-detector (prod) 3 -> 2",
                message: { action: "failed", why, model: "fraud-detector", stack: "prod", from: "3", to: "2", alarm: ALARM, buildId, eventId: event.id },
            },
        ]);
    });

    it("the same build's end delivered again is a redelivery: told once", async () => {
        const ports = aws();
        const event = buildEnd({ status: "FAILED", from: "3", to: "2" });
        await handleTriggerEvent(event, settings(), ports, ports.now);

        const again = await handleTriggerEvent(event, settings(), ports, ports.now);

        expect(again).toEqual({ action: "ignored", why: `the end of build ${event.detail["build-id"]} was reported before (event ${event.id}: a redelivery)` });
        expect(ports.published).toHaveLength(1);
    });

    it("Kubernetes, a stopped build: nothing changed, and the command has no --after-fast-path", async () => {
        const ports = aws();
        const event = buildEnd({ status: "STOPPED", from: "3", to: "2" });

        const outcome = await handleTriggerEvent(event, settings(KUBERNETES), ports, ports.now);

        expect(outcome).toEqual({
            action: "failed",
            why: `reconcile build ${event.detail["build-id"]} stopped: nothing changed: traffic is still on 3; finish it by hand with mlops rollback --stack prod --version 2 --expect-from 3`,
        });
        expect(ports.published.map((notice) => notice.subject)).toEqual(["mlops reconcile stopped: fraud-detector (prod) 3 -> 2"]);
    });

    it("names the versions the build carried, not the trigger's settings (the pin may have moved since)", async () => {
        const ports = aws();
        const event = buildEnd({ status: "FAILED", from: "5", to: "4" });

        const outcome = await handleTriggerEvent(event, settings(KUBERNETES), ports, ports.now);

        expect(outcome.why).toBe(
            `reconcile build ${event.detail["build-id"]} failed: nothing changed: traffic is still on 5; finish it by hand with mlops rollback --stack prod --version 4 --expect-from 5`,
        );
        expect(ports.published.map((notice) => notice.subject)).toEqual(["mlops reconcile failed: fraud-detector (prod) 5 -> 4"]);
    });

    it("a build that carried no versions nor alarm: the trigger's pin, '?' for a target it does not have, and no alarm", async () => {
        const ports = aws();
        const event = buildEnd({ status: "FAILED", alarm: false });
        const buildId = event.detail["build-id"];

        const outcome = await handleTriggerEvent(event, settings({ ...KUBERNETES, rollbackVersion: undefined }), ports, ports.now);

        const why = `reconcile build ${buildId} failed: nothing changed: traffic is still on 3; finish it by hand with mlops rollback --stack prod --version ? --expect-from 3`;
        expect(outcome).toEqual({ action: "failed", why });
        expect(ports.published).toEqual([
            {
                subject: "mlops reconcile failed: fraud-detector (prod) 3 -> ?",
                message: { action: "failed", why, model: "fraud-detector", stack: "prod", from: "3", to: "?", alarm: null, buildId, eventId: event.id },
            },
        ]);
    });

    it("cuts the notice's subject below SNS's 100 characters", async () => {
        const ports = aws();
        const model = "fraud-detector-with-a-model-name-long-enough-to-push-the-subject-past-what-sns-accepts";

        await handleTriggerEvent(buildEnd({ status: "FAILED", from: "3", to: "2" }), settings({ model }), ports, ports.now);

        const subject = `mlops reconcile failed: ${model} (prod) 3 -> 2`;
        expect(subject.length).toBeGreaterThan(100);
        expect(ports.published.map((notice) => notice.subject)).toEqual([`${subject.slice(0, 96)}...`]);
    });
});

describe("the Kubernetes instant switch (EKS)", () => {
    const EKS: Partial<TriggerSettings> = {
        ...KUBERNETES,
        eks: { clusterName: "prod", endpoint: "https://prod.eks.example", caData: "Q0E=" },
        kubernetes: {
            namespace: "fraud",
            serviceName: "fraud-detector",
            rollbackDeployment: "fraud-detector-2",
            replicas: 3,
            startupTimeoutSeconds: 900,
            atReducedCapacity: false,
        },
    };

    /** Stands for the cluster's API server: what the Service selects, the target's ready pods, and the writes. */
    function cluster(selected: string | undefined, targetReady: number, selectedAtWrite?: string) {
        const writes: string[] = [];
        return {
            writes,
            port: {
                observe: () => Promise.resolve({ uid: "5b2f6c1e-0d4a-4c3e-9a57-2f0e8d1c9b10", selected, targetReady }),
                switchSelector: (target: { from: string; to: string }) => {
                    const current = selectedAtWrite ?? selected;
                    if (current !== target.from) return Promise.resolve({ kind: "conflict" as const, selected: current });
                    writes.push(`${target.from}->${target.to}`);
                    return Promise.resolve({ kind: "switched" as const });
                },
            },
        };
    }

    it("moves the Service with one write after the cooldown claim, then starts the build that records it, and tells people once", async () => {
        const ports = aws();
        const { port, writes } = cluster("3", 3);
        const event = alarmEvent();
        const outcome = await handleAlarmEvent(event, settings(EKS), Object.assign(ports, { kubernetes: port }), ports.now);

        const why = `Service fraud/fraud-detector moved to version 2 (version 2 has 3 ready pods (hot standby)); reconcile build ${RUNNER}:build-1 records it in the stack`;
        expect(outcome).toEqual({ action: "rolled-back", why, buildId: `${RUNNER}:build-1` });
        expect(writes).toEqual(["3->2"]);
        expect(ports.methods()).toEqual([
            "claimEvent",
            "lastRollback",
            "triggerLastUpdated",
            "claimRollback",
            "recordIncidentStep",
            "startReconcile",
            "recordIncidentStep",
            "publish",
            "recordIncidentStep",
            "finishEvent",
        ]);
        expect(ports.published).toEqual([{ subject: "mlops rolled back: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "rolled-back", why) }]);
    });

    it("leaves a Service that no longer selects the pinned version alone, claims no cooldown, and says so", async () => {
        const ports = aws();
        const { port, writes } = cluster("1", 3);
        const event = alarmEvent();
        const outcome = await handleAlarmEvent(event, settings(EKS), Object.assign(ports, { kubernetes: port }), ports.now);
        const why =
            "Service fraud/fraud-detector: the Service selects version 1, not 3, the version this rollback leaves: it was changed outside this stack; nothing was written; left alone";
        expect(outcome).toEqual({ action: "failed-closed", why });
        expect(writes).toEqual([]);
        expect(ports.methods()).not.toContain("claimRollback");
        expect(ports.methods()).not.toContain("startReconcile");
        expect(ports.published).toEqual([
            { subject: "mlops rollback refused: fraud-detector (prod) 3 -> 2", message: incidentNotice(event, "failed-closed", why) },
        ]);
    });

    it("gives the cooldown back and writes nothing when the Service moves between the read and the write", async () => {
        const ports = aws();
        const { port, writes } = cluster("3", 3, "1");
        const outcome = await handleAlarmEvent(alarmEvent(), settings(EKS), Object.assign(ports, { kubernetes: port }), ports.now);
        expect(outcome).toEqual({
            action: "failed-closed",
            why: "Service fraud/fraud-detector stopped selecting version 3 before the switch (it selects 1); nothing was written",
        });
        expect(writes).toEqual([]);
        expect(ports.methods()).toEqual(["claimEvent", "lastRollback", "triggerLastUpdated", "claimRollback", "releaseRollback", "publish", "finishEvent"]);
        expect(ports.rollback).toBeUndefined();
    });

    it("ignores, quietly, an alarm when the Service already selects the rollback version", async () => {
        const ports = aws();
        const { port, writes } = cluster("2", 3);
        const outcome = await handleAlarmEvent(alarmEvent(), settings(EKS), Object.assign(ports, { kubernetes: port }), ports.now);
        expect(outcome).toEqual({ action: "ignored", why: "Service fraud/fraud-detector already selects version 2" });
        expect(writes).toEqual([]);
        expect(ports.published).toEqual([]);
    });

    it("with a partial standby, leaves the switch to the reconcile build (scale first) and says why", async () => {
        const ports = aws();
        const { port, writes } = cluster("3", 1);
        const outcome = await handleAlarmEvent(alarmEvent(), settings(EKS), Object.assign(ports, { kubernetes: port }), ports.now);
        expect(writes).toEqual([]);
        expect(outcome.action).toBe("rolled-back");
        expect(outcome.why).toBe(
            `reconcile build ${RUNNER}:build-1 runs mlops rollback --version 2 (no instant switch: version 2 has 1 of 3 pods ready (partial standby); the update scales version 2 to 3 pods and then moves the Service: up to 900 s (mlops:kubernetes.startupTimeoutSeconds) while its pods load the model. To switch first at reduced capacity, set mlops:kubernetes.rollbackAtReducedCapacity: true)`,
        );
    });

    it("says traffic is on the target already when the build does not start after the switch", async () => {
        const ports = aws();
        ports.failing.set("startReconcile", new Error("AccessDenied"));
        const { port, writes } = cluster("3", 3);
        await expect(handleAlarmEvent(alarmEvent(), settings(EKS), Object.assign(ports, { kubernetes: port }), ports.now)).rejects.toThrow(
            "traffic is on 2, but the reconcile build did not start (AccessDenied)",
        );
        expect(writes).toEqual(["3->2"]);
        expect(ports.published.map((notice) => (notice.message as { why: string }).why)).toEqual([
            'traffic is on 2, but the reconcile build did not start (AccessDenied); the trigger starts it on Lambda\'s retries of this event and says so; if no "rolled back" notice follows, finish it by hand with mlops rollback --stack prod --version 2 --expect-from 3',
        ]);
    });
});

describe("SageMaker hot standby: the weights fast path", () => {
    const HOT_CONFIG = "fraud-detector-config-3-hot1234";
    const record = endpointVariantsFor({
        settings: { instanceType: "ml.m5.large", instanceCount: 2, variantName: "primary", standbyVariantName: "standby", standbyInstanceCount: 1 },
        pinned: "3",
        standby: "2",
        quarantined: [],
        catalog: ["1", "2", "3"],
    }).record;
    const hot = (overrides: Partial<TriggerSettings> = {}) =>
        settings({ pinnedConfigName: HOT_CONFIG, rollbackConfigName: HOT_CONFIG, hotStandby: { record, instanceCount: 2 }, ...overrides });
    const live = (primary: number, standby: number, extra: { status?: string; configName?: string } = {}) =>
        aws({
            configName: HOT_CONFIG,
            ...extra,
            variants: [
                { variantName: "primary", weight: primary, instanceCount: 2 },
                { variantName: "standby", weight: standby, instanceCount: 1 },
            ],
        });

    it("moves all weight to the standby with one call (weight and count together), starts the build and tells people; no UpdateEndpoint, no target check", async () => {
        const ports = live(1, 0);
        const outcome = await handleAlarmEvent(alarmEvent(), hot(), ports, ports.now);
        expect(outcome.action).toBe("rolled-back");
        expect(ports.argsOf("updateWeights")).toEqual([
            [
                ENDPOINT,
                [
                    { variantName: "primary", weight: 0 },
                    { variantName: "standby", weight: 1, instanceCount: 2 },
                ],
            ],
        ]);
        expect(ports.methods()).not.toContain("updateEndpoint");
        expect(ports.methods()).not.toContain("rollbackTargetProblem");
        expect(outcome.why).toBe(
            `endpoint ${ENDPOINT} moved to version 2 with one UpdateEndpointWeightsAndCapacities call (all weight to variant standby at once, on 1 of 2 instances until SageMaker adds the rest); reconcile build ${outcome.buildId} pins it in the stack`,
        );
        expect(ports.published).toHaveLength(1);
    });

    it("ignores the alarm, calling nothing, when the standby carries all the weight already", async () => {
        const ports = live(0, 1);
        const outcome = await handleAlarmEvent(alarmEvent(), hot(), ports, ports.now);
        expect(outcome).toEqual({ action: "ignored", why: `endpoint ${ENDPOINT}: variant standby (version 2) carries all the weight already` });
        expect(ports.methods()).not.toContain("updateWeights");
        expect(ports.published).toEqual([]);
    });

    it("fails closed, touching nothing, when the weight was moved outside the stack", async () => {
        const ports = live(0.5, 0.5);
        const outcome = await handleAlarmEvent(alarmEvent(), hot(), ports, ports.now);
        expect(outcome.action).toBe("failed-closed");
        expect(outcome.why).toBe(
            `endpoint ${ENDPOINT}: the weight is on primary and standby, not on variant primary of version 3 alone: someone moved it outside the stack; not touching it`,
        );
        expect(ports.methods()).not.toContain("updateWeights");
        expect(ports.methods()).not.toContain("claimRollback");
    });

    it("a call refused because SageMaker became busy in between: waits as the check does, calls once more, and succeeds", async () => {
        const ports = live(1, 0);
        ports.failing.set("updateWeights", new Error(`Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x".`));
        const describe = ports.describeEndpoint.bind(ports);
        let reads = 0;
        ports.describeEndpoint = (name: string) => {
            // The second reading is the re-check after the refusal: the other change is done by then.
            if (++reads === 2) ports.failing.delete("updateWeights");
            return describe(name);
        };
        const outcome = await handleAlarmEvent(alarmEvent(), hot(), ports, ports.now);
        expect(outcome.action).toBe("rolled-back");
        expect(ports.argsOf("updateWeights")).toHaveLength(2);
    });

    it("a call refused twice as busy: reported as skipped, the cooldown claim released; never a third call", async () => {
        const ports = live(1, 0);
        ports.failing.set("updateWeights", new Error("Cannot update in-progress endpoint"));
        const outcome = await handleAlarmEvent(alarmEvent(), hot(), ports, ports.now);
        expect(outcome).toEqual({
            action: "skipped",
            why: "UpdateEndpointWeightsAndCapacities to version 2 failed (Cannot update in-progress endpoint); the endpoint still serves 3",
        });
        expect(ports.argsOf("updateWeights")).toHaveLength(2);
        expect(ports.methods()).toContain("releaseRollback");
        expect(ports.rollback).toBeUndefined();
        expect(ports.published).toHaveLength(1);
    });

    it("another failure of the call: reported as failed, once, the claim released", async () => {
        const ports = live(1, 0);
        ports.failing.set("updateWeights", new Error("AccessDeniedException"));
        const outcome = await handleAlarmEvent(alarmEvent(), hot(), ports, ports.now);
        expect(outcome.action).toBe("failed");
        expect(ports.argsOf("updateWeights")).toHaveLength(1);
        expect(ports.rollback).toBeUndefined();
    });

    it("a retry of a delivery killed after its weights call: the weight is on the standby already, so no second call; the build and the notice follow", async () => {
        const ports = live(0, 1);
        ports.rollback = { at: new Date(T0), alarmName: ALARM, eventId: "alarm-event-1", from: "3", to: "2", steps: { traffic: { state: "pending" } } };

        const outcome = await handleAlarmEvent(alarmEvent(), hot(), ports, ports.now);

        expect(outcome.why).toBe(
            `endpoint ${ENDPOINT}: variant standby (version 2) carries all the weight already (found so by a retry of this event); reconcile build ${RUNNER}:build-1 pins it in the stack`,
        );
        expect(ports.methods()).not.toContain("updateWeights");
        expect(ports.argsOf("startReconcile")).toHaveLength(1);
        expect(ports.published).toHaveLength(1);
    });

    it("a rollback target outside the config takes the cold fast path (UpdateEndpoint to its own config)", async () => {
        const ports = aws();
        const outcome = await handleAlarmEvent(
            alarmEvent(),
            settings({ rollbackVersion: "1", hotStandby: { record, instanceCount: 2 }, rollbackConfigName: "fraud-detector-1-config" }),
            ports,
            ports.now,
        );
        expect(outcome.action).toBe("rolled-back");
        expect(ports.argsOf("updateEndpoint")).toEqual([[ENDPOINT, "fraud-detector-1-config", GUARDRAILS]]);
        expect(ports.methods()).not.toContain("updateWeights");
    });
});

describe("malformed, odd and out-of-range events (issue 23, item 11)", () => {
    /** A FAILED build of the runner whose environment-variables field is `variables`, as a malformed event would carry it. */
    function buildWithVariables(variables: unknown) {
        const event = buildStateChangeEvent({ projectName: RUNNER, status: "FAILED", from: "3", to: "2" });
        (event.detail["additional-information"].environment as Record<string, unknown>)["environment-variables"] = variables;
        return event;
    }

    it.each([
        [
            "not a list (the issue's input)",
            "MLOPS_ROLLBACK_VERSION=2",
            "detail.additional-information.environment.environment-variables is a string, not a list",
        ],
        ["an object", { MLOPS_ROLLBACK_VERSION: "2" }, "detail.additional-information.environment.environment-variables is an object, not a list"],
        ["null", null, "detail.additional-information.environment.environment-variables is null, not a list"],
    ])("a failed build whose environment variables are %s is reported once with the trigger's own versions, never thrown", async (_, variables, unreadable) => {
        const ports = aws();
        const event = buildWithVariables(variables);

        const outcome = await handleTriggerEvent(event, settings(), ports, ports.now);

        expect(outcome).toEqual({
            action: "failed",
            why: `reconcile build ${event.detail["build-id"]} failed: traffic is on 2 (restored by the alarm trigger), but the stack still pins 3 and has not quarantined it; finish it by hand with mlops rollback --stack prod --version 2 --expect-from 3 --after-fast-path (the build's environment variables were unreadable, ${unreadable}: these versions are the trigger's own)`,
        });
        expect(ports.published).toHaveLength(1);
        expect(ports.events.get(`build#${event.detail["build-id"]}`)).toEqual({ claim: "handled" });
    });

    it("a variant: a list with unreadable entries keeps the readable ones and says how many were not", async () => {
        const ports = aws();
        const event = buildWithVariables([
            null,
            { name: 7, value: "x" },
            { name: "MLOPS_ROLLBACK_FROM", value: "5" },
            { name: "MLOPS_ROLLBACK_VERSION", value: 4 },
        ]);

        const outcome = await handleTriggerEvent(event, settings(), ports, ports.now);

        expect(outcome.why).toContain(
            "but the stack still pins 5 and has not quarantined it; finish it by hand with mlops rollback --stack prod --version 2 --expect-from 5",
        );
        expect(outcome.why).toContain(
            "(the build's environment variables were unreadable, 3 of the 4 entries of detail.additional-information.environment.environment-variables have no string name and value: these versions are the trigger's own)",
        );
    });

    it.each([
        ["without a build id", (detail: Record<string, unknown>) => delete detail["build-id"], "detail.build-id is not a non-empty string"],
        ["with a numeric build status", (detail: Record<string, unknown>) => (detail["build-status"] = 3), "detail.build-status is not a non-empty string"],
        ["without a project name", (detail: Record<string, unknown>) => delete detail["project-name"], "detail.project-name is not a non-empty string"],
    ])("a build event %s is rejected with why, without an AWS call or a throw", async (_, spoil, problem) => {
        const ports = aws();
        const event = buildStateChangeEvent({ projectName: RUNNER, status: "FAILED" });
        spoil(event.detail);

        const outcome = await handleTriggerEvent(event, settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "rejected", why: `malformed CodeBuild Build State Change event: ${problem}` });
        expect(ports.calls).toEqual([]);
    });

    it.each([
        ["whose detail is null", (event: Record<string, unknown>) => (event.detail = null), "detail is not an object"],
        ["without a state", (event: Record<string, unknown>) => delete (event.detail as Record<string, unknown>).state, "detail.state is not an object"],
        [
            "with a numeric state timestamp",
            (event: Record<string, unknown>) => (((event.detail as Record<string, unknown>).state as Record<string, unknown>).timestamp = 1),
            "detail.state.timestamp is not a string",
        ],
        [
            "with an unreadable time",
            (event: Record<string, unknown>) => (((event.detail as Record<string, unknown>).state as Record<string, unknown>).timestamp = "yesterday"),
            "unreadable event time 'yesterday'",
        ],
    ])("an alarm event %s is rejected with why, without an AWS call or a throw", async (_, spoil, problem) => {
        const ports = aws();
        const event = alarmEvent() as unknown as Record<string, unknown>;
        spoil(event);

        const outcome = await handleTriggerEvent(event, settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "rejected", why: `malformed CloudWatch Alarm State Change event: ${problem}` });
        expect(ports.calls).toEqual([]);
    });

    it("a newline in a version id (the issue's input) never reaches the SNS subject: one line, the rest of the notice intact", async () => {
        const ports = aws();
        const event = buildStateChangeEvent({ projectName: RUNNER, status: "FAILED", from: "3", to: "2\nX-Injected: yes" });

        await handleTriggerEvent(event, settings(), ports, ports.now);

        expect(ports.argsOf("publish").map(([subject]) => subject)).toEqual(["mlops reconcile failed: fraud-detector (prod) 3 -> 2 X-Injected: yes"]);
        expect((ports.published[0].message as { to: string }).to).toBe("2\nX-Injected: yes");
    });

    it("a variant: CR LF, a tab, a bell and non-ASCII in the alarm notice's subject become one line of printable ASCII", async () => {
        const ports = aws();

        await handleAlarmEvent(alarmEvent(), settings({ model: "fraud-d\u00e9tecteur\u0007", rollbackVersion: "2\r\n\tv" }), ports, ports.now);

        expect(ports.argsOf("publish").map(([subject]) => subject)).toEqual(["mlops rolled back: fraud-d?tecteur? (prod) 3 -> 2 v"]);
    });

    it.each([
        ["a line break and a tab", "a\r\nb\tc", "a b c"],
        ["a line or paragraph separator", "a\u2028b\u2029c", "a b c"],
        ["a control or non-ASCII character", "a\u0000b\u00e9c\u{1f600}", "a?b?c?"],
        ["only line breaks", "\n\n", "mlops notice"],
        ["99 characters", "x".repeat(99), "x".repeat(99)],
        ["100 characters", "x".repeat(100), `${"x".repeat(96)}...`],
    ])("snsSubject: %s", (_, text, subject) => {
        expect(snsSubject(text)).toBe(subject);
        expect(snsSubject(text)).toMatch(/^[\x20-\x7e]{1,99}$/);
    });

    it.each([
        ["a day in the future (the issue's input)", DAY, "detail.state.timestamp (2026-11-28T09:00:00.000Z) is 86400 s ahead"],
        ["just beyond the 300 s of clock skew allowed", 301_000, "detail.state.timestamp (2026-11-27T09:05:01.000Z) is 301 s ahead"],
    ])("an alarm event from %s is ignored and says why, with no AWS call", async (_, aheadMs, why) => {
        const ports = aws();

        const outcome = await handleAlarmEvent(alarmEvent(T0 + aheadMs), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: `from the future: its ${why} of now, more than the 300 s of clock skew allowed` });
        expect(ports.calls).toEqual([]);
    });

    it("an alarm stamped within the clock skew allowed is acted on", async () => {
        const ports = aws({ lastModified: new Date(T0 - DAY) });

        expect((await handleAlarmEvent(alarmEvent(T0 + 300_000), settings(), ports, ports.now)).action).toBe("rolled-back");
    });

    it("an event whose EventBridge time is far ahead, though its state change is not, is ignored too", async () => {
        const ports = aws();
        const event = { ...alarmEvent(), time: new Date(T0 + DAY).toISOString() };

        const outcome = await handleAlarmEvent(event, settings(), ports, ports.now);

        expect(outcome).toEqual({
            action: "ignored",
            why: "from the future: its time (2026-11-28T09:00:00.000Z) is 86400 s ahead of now, more than the 300 s of clock skew allowed",
        });
    });

    it("an alarm from far in the past is ignored as stale (the rule that already held): 901 s with 900 s allowed", async () => {
        const ports = aws();

        const outcome = await handleAlarmEvent(alarmEvent(T0 - 901_000), settings(), ports, ports.now);

        expect(outcome).toEqual({ action: "ignored", why: "stale: the alarm fired 901 s ago, more than the 900 s an event stays actionable" });
        // One read: whether this event owns an unfinished incident (then its retry finishes it); nothing claimed or written.
        expect(ports.methods()).toEqual(["lastRollback"]);
    });
});
