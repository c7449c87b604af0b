/**
 * The alarm-triggered rollback: from one EventBridge event to at most one
 * traffic restore, one reconcile build and one notification.
 *
 * Order matters. Everything that can refuse (event triage, dedupe, cooldown,
 * endpoint state, the target's existence) runs before anything changes, so
 * a refusal touches nothing. The cooldown is claimed with a conditional
 * write just before the restore, so two deliveries racing past the checks
 * still restore once.
 *
 * Every event kind the handler acts on (an alarm, a reconcile build's end) is
 * deduplicated the same way, because EventBridge and Lambda's own event queue
 * both deliver at least once: claim, act (tell people), then record it
 * handled. Claim first, so that deliveries racing each other tell people
 * once; but a claim lasts only as long as the delivery holding it can live
 * (its Lambda deadline), so that one dying between its claim and its notice
 * (a timeout, an out-of-memory kill) loses nothing: its retry waits the claim
 * out and tells people. Publishing first and recording after would tell
 * racing deliveries twice; a claim without a lease would lose the notice of a
 * delivery that died holding it.
 *
 * The alarm event that wins the cooldown claim owns an incident
 * (trigger/incident.ts): the claim is its record, and each step it finishes
 * (traffic moved, build started, people told) is written into that record.
 * A retry of that event (Lambda's, after a failure or a kill; EventBridge's
 * redelivery) finds its own incident and finishes what is left: it never
 * moves traffic twice (the live state says where traffic is), never starts a
 * second build (the step is recorded; when its record was lost, the retry
 * looks for a build carrying the event id before starting one, and
 * CodeBuild's idempotency token, the event id, covers the first 5 minutes
 * too), never repeats a notice it recorded. An incident that cannot
 * finish (the build does not start, the notice cannot be sent) fails the
 * invocation with an error that says where things stand and how to finish by
 * hand: Lambda retries it twice, then keeps the event and that error in the
 * function's dead-letter queue, whose alarm tells people. What is left: a
 * delivery that dies after publishing and before recording it is told again
 * by its retry, twice rather than never.
 */
import { triageAlarmEvent, type FreshAlarm } from "./alarmEvent";
import { BUSY_ENDPOINT_STATUSES, readWhileSettling } from "../rollback/endpointSettle";
import { isBuildStateChange, triageBuildEvent, type BuildStateChangeEvent, type FailedReconcile } from "./buildEvent";
import type { TriggerSettings } from "./settings";
import { decideSwitch, type SwitchDecision, type SwitchTarget, type TrafficSwitch } from "../rollback/kubernetesSwitch";
import { decideWeightsSwitch, isInProgressRefusal, type WeightsDecision } from "../rollback/sagemakerWeightsSwitch";
import { variantOf } from "../catalog/endpointVariants";
import type { LiveVariant, VariantCall } from "../components/endpointVariantWeights";
import { noticeDue, remainingSteps, type IncidentSteps, type IncidentStepUpdate, type TrafficStep } from "./incident";
import { snsSubject } from "./notice";

/** What the endpoint reports (DescribeEndpoint). */
export interface EndpointState {
    readonly status: string;
    readonly configName: string;
    readonly lastModified: Date;
    /** Each production variant's live weight and instance count. @default [] */
    readonly variants?: readonly LiveVariant[];
}

/** The last automatic rollback of this stack, kept in the state table: the incident that claimed it. */
export interface RollbackRecord {
    readonly at: Date;
    readonly alarmName: string;
    /** The alarm event that owns the incident: its retries finish it. */
    readonly eventId: string;
    readonly from: string;
    readonly to: string;
    /** The incident's steps done so far. @default undefined: a record of an older handler, taken as finished */
    readonly steps?: IncidentSteps;
}

/** The AWS calls the handler makes; `awsTriggerPorts` implements them with the AWS SDK. */
export interface TriggerPorts {
    /**
     * Claims an event (by its dedupe key) until `leaseUntil`, with a
     * conditional write: "claimed" (with a token for `releaseEvent`), or
     * "handled" when a delivery finished it before, or "in-flight" with the
     * lease of the delivery that holds it. A claim whose lease has passed at
     * `now` is taken over.
     */
    claimEvent(key: string, now: Date, leaseUntil: Date): Promise<EventClaim>;
    /** Records a claimed event as handled: every later delivery of it is ignored. */
    finishEvent(key: string): Promise<void>;
    /** Drops our claim on an event whose handling failed, so that a retry handles it. */
    releaseEvent(key: string, token: string): Promise<void>;
    lastRollback(): Promise<RollbackRecord | undefined>;
    /**
     * Conditional write: true only if no rollback is recorded at or after
     * `notBefore` that `cooldownCovers` for `record.from` (the pinned version).
     */
    claimRollback(record: RollbackRecord, notBefore: Date): Promise<boolean>;
    /** Undoes a claim whose restore failed, so that the next alarm may try again. */
    releaseRollback(record: RollbackRecord): Promise<void>;
    /**
     * Writes a finished step into the rollback record of the incident that
     * `eventId` owns, with a conditional write: only while the record is that
     * incident's (not released and claimed by another since), and a build id
     * only once. False when that condition failed and nothing was written.
     */
    recordIncidentStep(eventId: string, step: IncidentStepUpdate): Promise<boolean>;
    describeEndpoint(endpointName: string): Promise<EndpointState>;
    /**
     * When the stack last updated this trigger (its Lambda's LastModified):
     * every pin change rewrites the trigger's environment, so an alarm older
     * than that is about a version that may no longer serve. Undefined when
     * unknown (outside Lambda).
     */
    triggerLastUpdated(): Promise<Date | undefined>;
    /** Why the target cannot serve (config, model or image gone), or undefined when it can. */
    rollbackTargetProblem(configName: string, image: string): Promise<string | undefined>;
    /** Points the endpoint at `configName`, all at once, keeping the guardrail alarm set. */
    updateEndpoint(endpointName: string, configName: string, guardrailAlarmNames: readonly string[]): Promise<void>;
    /** Hot standby: one UpdateEndpointWeightsAndCapacities call with these variants' weights and counts. */
    updateWeights(endpointName: string, variants: readonly VariantCall[]): Promise<void>;
    /**
     * Starts the reconcile build; returns the build id. Idempotent per event
     * id only while CodeBuild keeps the idempotency token (5 minutes): a
     * retry after that starts a second build unless `findReconcile` found the first.
     */
    startReconcile(request: { readonly version: string; readonly alarmName: string; readonly eventId: string }): Promise<string>;
    /**
     * The id of a build of the runner project that an earlier delivery of
     * `eventId` started (its MLOPS_EVENT_ID), looking at the project's newest
     * builds; undefined when none is. For a retry whose record lacks the
     * build id (the write failed after StartBuild did not).
     */
    findReconcile(eventId: string): Promise<string | undefined>;
    publish(subject: string, message: string): Promise<void>;
    sleep(milliseconds: number): Promise<void>;
    /**
     * The cluster's API, for the Kubernetes instant switch (EKS): what the
     * Service and the target's Deployment show, and the one compare-and-set
     * write. Undefined without `mlops:trigger.eks`: the reconcile build moves traffic.
     */
    readonly kubernetes?: Pick<TrafficSwitch, "observe" | "switchSelector">;
}

export type EventClaim =
    { readonly state: "claimed"; readonly token: string } | { readonly state: "handled" } | { readonly state: "in-flight"; readonly leaseUntil: Date };

export type TriggerAction =
    /** Not ours, not new, or already handled: logged, nobody told. */
    | "ignored"
    /** Malformed (not what AWS sends): logged with what is wrong, nobody told, not retried (a retry fails the same way). */
    | "rejected"
    /** A real incident we chose not to act on (cooldown, SageMaker busy): people are told. */
    | "skipped"
    /** The rollback target cannot serve: nothing touched, people are told. */
    | "failed-closed"
    /** A step failed after the checks; people are told what state things are in. */
    | "failed"
    /** Traffic restored (SageMaker; Kubernetes with the EKS instant switch), or the reconcile started (Kubernetes without it). */
    | "rolled-back";

export interface TriggerOutcome {
    readonly action: TriggerAction;
    readonly why: string;
    readonly buildId?: string;
}

/**
 * Lambda's longest timeout. Outside Lambda (no deadline given) a claim is
 * held this long: whoever holds it cannot still be running after that.
 */
const LONGEST_INVOCATION_MS = 15 * 60_000;
/** How often a delivery that waits for another one's claim looks again. */
const CLAIM_POLL_MS = 5_000;
/** How long before its deadline a delivery stops waiting for another one's claim. */
const CLAIM_GIVE_UP_MS = 1_000;

/**
 * One event, triaged: nothing to do, or work to do once, under the key
 * that deduplicates it. Every event kind the handler acts on comes through
 * here, so none can act without a dedupe key.
 */
type EventWork =
    /** Nothing to do ("ignore"), or not a well-formed event ("reject"): either is logged and never retried. */
    | { readonly kind: "ignore" | "reject"; readonly why: string }
    | {
          readonly kind: "act";
          readonly dedupeKey: string;
          /** Why a delivery finding the key handled does nothing. */
          readonly handledBefore: string;
          readonly act: () => Promise<TriggerOutcome>;
          /**
           * Read before claiming the key: when it resolves false the event is
           * ignored with `why`, nothing claimed or written. @default undefined: always act
           */
          readonly gate?: { readonly open: () => Promise<boolean>; readonly why: string };
      };

/**
 * The Lambda's two event kinds: the composite alarm's state changes, and the
 * reconcile build's end. `deadline`: when Lambda ends this invocation (its
 * timeout); a claim on an event lasts until then.
 */
export async function handleTriggerEvent(
    event: unknown,
    settings: TriggerSettings,
    ports: TriggerPorts,
    now: () => Date = () => new Date(),
    deadline?: Date,
): Promise<TriggerOutcome> {
    const work = isBuildStateChange(event) ? buildEndWork(event, settings, ports) : alarmWork(event, settings, ports, now);
    return handleOnce(work, ports, now, deadline);
}

/** An alarm event alone (anything else is ignored), deduplicated as `handleTriggerEvent` does. */
export async function handleAlarmEvent(
    event: unknown,
    settings: TriggerSettings,
    ports: TriggerPorts,
    now: () => Date = () => new Date(),
    deadline?: Date,
): Promise<TriggerOutcome> {
    return handleOnce(alarmWork(event, settings, ports, now), ports, now, deadline);
}

/**
 * An alarm event, keyed by its EventBridge id: a redelivery keeps the id.
 * (A new incident of the same alarm is a new event; the cooldown claim,
 * not this key, keeps it from restoring twice.)
 */
function alarmWork(event: unknown, settings: TriggerSettings, ports: TriggerPorts, now: () => Date): EventWork {
    const triage = triageAlarmEvent(event, settings.alarmName, settings.maxEventAgeSeconds, now());
    if (triage.kind === "ignore" && triage.stale !== undefined) return staleAlarmWork(triage.stale, triage.why, settings, ports);
    if (triage.kind !== "act") return triage;
    const alarm = triage.alarm;
    return {
        kind: "act",
        dedupeKey: `event#${alarm.eventId}`,
        handledBefore: `event ${alarm.eventId} was handled before (EventBridge redelivery)`,
        act: () => handleFreshAlarm(alarm, settings, ports, now),
    };
}

/**
 * An alarm event too old to act on, unless it is a retry of the event
 * that owns the last incident (Lambda retries a failed invocation up to
 * minutes later, EventBridge for up to a day, and the age counts from when
 * the alarm fired): then it finishes that incident, as any retry of it
 * does. Any other is ignored after one read of the rollback record,
 * claiming nothing.
 */
function staleAlarmWork(alarm: FreshAlarm, staleWhy: string, settings: TriggerSettings, ports: TriggerPorts): EventWork {
    return {
        kind: "act",
        dedupeKey: `event#${alarm.eventId}`,
        handledBefore: `event ${alarm.eventId} was handled before (EventBridge redelivery)`,
        gate: { open: async () => ownIncident(await ports.lastRollback(), alarm.eventId) !== undefined, why: staleWhy },
        act: async () => {
            // Read again under the claim: another delivery may have finished or released it meanwhile.
            const own = ownIncident(await ports.lastRollback(), alarm.eventId);
            if (own === undefined) return { action: "ignored", why: staleWhy };
            return finishIncident(alarm, own, undefined, new IncidentReport(settings, alarm, ports).about(own), settings, ports, true);
        },
    };
}

/** The last incident when `eventId` owns it (it claimed the rollback, and its record tracks steps), else undefined. */
function ownIncident(last: RollbackRecord | undefined, eventId: string): Incident | undefined {
    return last?.eventId === eventId && last.steps !== undefined ? { ...last, steps: last.steps } : undefined;
}

/**
 * A reconcile build's end, keyed by the build: one notice per build that
 * failed or stopped. The build id covers every redelivery of its event
 * (same event id, same build) and also a re-send that EventBridge gives a
 * new event id (AWS services retry sending events for up to 24 h); a
 * different build, even of the same rollback, is a different key.
 */
function buildEndWork(event: BuildStateChangeEvent, settings: TriggerSettings, ports: TriggerPorts): EventWork {
    const triage = triageBuildEvent(event, settings.runnerProject);
    if (triage.kind !== "failed") return triage;
    const { build } = triage;
    return {
        kind: "act",
        dedupeKey: `build#${build.buildId}`,
        handledBefore: `the end of build ${build.buildId} was reported before (event ${event.id}: a redelivery)`,
        act: () => reportBuildEnd(build, event.id, settings, ports),
    };
}

/**
 * Claim, act, record: the work of one event at most once across
 * deliveries, and never lost. A failure releases the claim and fails the
 * invocation, so that Lambda retries it (then its dead-letter queue).
 */
async function handleOnce(work: EventWork, ports: TriggerPorts, now: () => Date, deadline?: Date): Promise<TriggerOutcome> {
    if (work.kind !== "act") return { action: work.kind === "ignore" ? "ignored" : "rejected", why: work.why };
    if (work.gate !== undefined && !(await work.gate.open())) return { action: "ignored", why: work.gate.why };
    const claim = await claimWhenFree(work.dedupeKey, ports, now, deadline ?? new Date(now().getTime() + LONGEST_INVOCATION_MS));
    if (claim === undefined) return { action: "ignored", why: work.handledBefore };
    let outcome: TriggerOutcome;
    try {
        outcome = await work.act();
    } catch (error) {
        // An unexpected failure (throttling, access denied) must not turn
        // the retries into "handled before". The cooldown claim still keeps
        // an alarm's retry from restoring twice.
        await ports.releaseEvent(work.dedupeKey, claim.token);
        throw error;
    }
    try {
        await ports.finishEvent(work.dedupeKey);
    } catch (error) {
        // The work is done and told: failing now would only make Lambda
        // repeat it. A redelivery before the claim lapses waits for it; one
        // after repeats the work, twice rather than never.
        return { ...outcome, why: `${outcome.why} (not recorded as handled: ${messageOf(error)}; a redelivery after this invocation's timeout repeats it)` };
    }
    return outcome;
}

/**
 * Claims `key` until this invocation's deadline. Another delivery's claim
 * is waited out: until it is recorded handled (undefined: nothing to do) or
 * its lease ends (its holder's deadline, when Lambda has ended it; then it
 * is taken over). The wait is timed by `sleep`, the handler's clock for
 * waiting. Out of time first, it fails, and Lambda retries it later: an
 * event is never called handled on a guess.
 *
 * With the function's reserved concurrency of 1 a claim found in flight is
 * one whose holder died: every later invocation started after it, so its
 * deadline is past that claim's lease, and it takes the claim over.
 */
async function claimWhenFree(key: string, ports: TriggerPorts, now: () => Date, deadline: Date): Promise<{ readonly token: string } | undefined> {
    const start = now().getTime();
    let waited = 0;
    const clock = () => Math.max(now().getTime(), start + waited);
    // Fail a moment before Lambda would end the invocation, so that the log says why.
    const giveUpAt = deadline.getTime() - CLAIM_GIVE_UP_MS;
    for (;;) {
        const claim = await ports.claimEvent(key, new Date(clock()), deadline);
        if (claim.state === "claimed") return claim;
        if (claim.state === "handled") return undefined;
        if (clock() >= giveUpAt) {
            throw new Error(
                `${key} is still being handled by another delivery (its claim lasts until ${claim.leaseUntil.toISOString()}); failing before this invocation's deadline so that Lambda retries it`,
            );
        }
        // Look again a second after the lease lapses, or sooner: the holder may finish first.
        const pause = Math.min(Math.max(claim.leaseUntil.getTime() - clock(), 0) + 1_000, CLAIM_POLL_MS, giveUpAt - clock());
        await ports.sleep(pause);
        waited += pause;
    }
}

/**
 * A reconcile build that failed or was stopped: on SageMaker traffic is on
 * the restored version while the stack still pins the bad one (and does not
 * quarantine it); on Kubernetes nothing changed. Either way a person must
 * finish the rollback, so say exactly how.
 */
async function reportBuildEnd(build: FailedReconcile, eventId: string, settings: TriggerSettings, ports: TriggerPorts): Promise<TriggerOutcome> {
    const from = build.from ?? settings.pinnedVersion;
    const to = build.to ?? settings.rollbackVersion ?? "?";
    const state =
        settings.target === "sagemaker"
            ? `traffic is on ${to} (restored by the alarm trigger), but the stack still pins ${from} and has not quarantined it`
            : settings.eks !== undefined
              ? `traffic is on ${to} if the trigger's instant switch moved it (mlops status shows which), but the stack still pins ${from} and has not quarantined it`
              : `nothing changed: traffic is still on ${from}`;
    const unreadable =
        build.unreadable === undefined ? "" : ` (the build's environment variables were unreadable, ${build.unreadable}: these versions are the trigger's own)`;
    const why = `reconcile build ${build.buildId} ${build.status.toLowerCase()}: ${state}; finish it by hand with ${finishByHand(settings, from, to)}${unreadable}`;
    const subject = `mlops reconcile ${build.status.toLowerCase()}: ${settings.model} (${settings.stack}) ${from} -> ${to}`;
    const message = {
        action: "failed",
        why,
        model: settings.model,
        stack: settings.stack,
        from,
        to,
        alarm: build.alarmName ?? null,
        buildId: build.buildId,
        eventId,
    };
    await publishNotice(ports, subject, message);
    return { action: "failed", why };
}

/** The command that finishes a rollback the trigger could not (the reconcile build's own). */
function finishByHand(settings: TriggerSettings, from: string, to: string): string {
    return `mlops rollback --stack ${settings.stack} --version ${to} --expect-from ${from}${settings.target === "sagemaker" ? " --after-fast-path" : ""}`;
}

/** SageMaker statuses in which SageMaker itself is changing the endpoint (or removing it): leave it alone. */
export { BUSY_ENDPOINT_STATUSES };

/**
 * Whether the last rollback still holds off another one: while it is being
 * reconciled (the pin is still the version it left), or when the version it
 * restored is now the pin (a rollback of a rollback). A version deployed
 * after it is a new release and gets its own rollback.
 */
export function cooldownCovers(last: RollbackRecord, pinnedVersion: string): boolean {
    return last.from === pinnedVersion || last.to === pinnedVersion;
}

async function handleFreshAlarm(alarm: FreshAlarm, settings: TriggerSettings, ports: TriggerPorts, now: () => Date): Promise<TriggerOutcome> {
    const report = new IncidentReport(settings, alarm, ports);
    const last = await ports.lastRollback();
    // A retry of the event that owns the last incident (Lambda's, after a failure or a kill): finish what it left,
    // whatever the checks below would say now (its own rollback made the alarm look stale; a pulumi up since may
    // have left no warm version), so that none of them drops an unfinished incident.
    const own = ownIncident(last, alarm.eventId);
    if (own !== undefined) return finishIncident(alarm, own, undefined, report.about(own), settings, ports, true);
    if (settings.rollbackVersion === undefined) {
        return report.tell("failed-closed", `no warm version precedes ${settings.pinnedVersion}, so there is nothing to restore instantly; roll back by hand`);
    }
    if (last !== undefined) {
        if (alarm.firedAt.getTime() < last.at.getTime()) {
            return { action: "ignored", why: `stale: the alarm fired before the last automatic rollback (${last.at.toISOString()})${unfinishedNote(last)}` };
        }
        const sinceSeconds = (now().getTime() - last.at.getTime()) / 1000;
        // At or inside the cooldown, as claimRollback counts it (a rollback at notBefore still covers).
        if (sinceSeconds <= settings.cooldownSeconds && cooldownCovers(last, settings.pinnedVersion)) {
            if (last.to === settings.pinnedVersion) {
                return report.tell(
                    "skipped",
                    `version ${last.to} was restored by a rollback ${Math.round(sinceSeconds)} s ago and is failing too; no rollback of a rollback within the ${settings.cooldownSeconds} s cooldown; roll back by hand (mlops rollback) if it must go`,
                );
            }
            // The same incident again (an alarm storm, a flapping alarm): people were told once, or its own event's retries tell them.
            return {
                action: "ignored",
                why: `the rollback ${last.from} -> ${last.to} of ${Math.round(sinceSeconds)} s ago is still being reconciled${unfinishedNote(last)}`,
            };
        }
    }

    const triggerUpdated = await ports.triggerLastUpdated();
    if (triggerUpdated !== undefined && alarm.firedAt.getTime() < triggerUpdated.getTime()) {
        return {
            action: "ignored",
            why: `stale: the alarm fired before the stack last updated this trigger (${triggerUpdated.toISOString()}), e.g. for a new pin`,
        };
    }

    const check = await checkTraffic(alarm, settings, ports, false);
    if (check.kind === "ignore" || check.kind === "on-target") return { action: "ignored", why: check.why };
    if (check.kind === "busy") return report.tell("skipped", check.why);
    if (check.kind === "refuse") return report.tell("failed-closed", check.why);

    const incident: Incident = {
        at: now(),
        alarmName: alarm.alarmName,
        eventId: alarm.eventId,
        from: settings.pinnedVersion,
        to: settings.rollbackVersion,
        steps: { traffic: check.kind === "switch" ? { state: "pending" } : { state: "with-build", how: check.how } },
    };
    const notBefore = new Date(incident.at.getTime() - settings.cooldownSeconds * 1000);
    if (!(await ports.claimRollback(incident, notBefore))) {
        return { action: "ignored", why: "another delivery of this incident claimed the rollback first" };
    }
    return finishIncident(alarm, incident, check.kind === "switch" ? check : undefined, report, settings, ports);
}

/**
 * For another event's view of the last incident: whether that one is still
 * unfinished (its notice not sent). Only its own event finishes it, so that
 * no two deliveries act on one incident; say where it stands.
 */
function unfinishedNote(last: RollbackRecord): string {
    if (last.steps === undefined || last.steps.told === "rolled-back") return "";
    return `; that incident (event ${last.eventId}) is unfinished: its own event's retries finish it, else the trigger's dead-letter queue keeps it`;
}

/** An incident: the rollback record its alarm event claimed, with the steps done so far. */
type Incident = RollbackRecord & { readonly steps: IncidentSteps };

/** What the endpoint or the Service shows about moving traffic to the rollback target, decided before anything changes. */
type TrafficCheck =
    /** Nothing to do, quietly (the alarm is older than the endpoint's last change). */
    | { readonly kind: "ignore"; readonly why: string }
    /** SageMaker is changing the endpoint, through every re-check. */
    | { readonly kind: "busy"; readonly why: string }
    /** Not the state the stack recorded, or a target that cannot serve: touch nothing. */
    | { readonly kind: "refuse"; readonly why: string }
    /** Traffic is on the rollback target already. */
    | { readonly kind: "on-target"; readonly why: string }
    /** The instant switch: the weights call (hot standby), the Service's selector (EKS), else UpdateEndpoint. */
    | SwitchPlan
    /** No instant switch: the reconcile build moves traffic; `how`: why, as the notice says it. */
    | { readonly kind: "with-build"; readonly how: string };

type SwitchPlan = {
    readonly kind: "switch";
    readonly weights?: Extract<WeightsDecision, { kind: "switch" }>;
    readonly kubernetes?: { readonly target: SwitchTarget; readonly decision: SwitchDecision };
};

/**
 * The checks on what serves now (DescribeEndpoint, the target's config and
 * image; the Service and the target's pods), each a refusal or a plan.
 * `resuming`: a retry of an incident's own event, whose traffic step was not
 * recorded; the endpoint's last change may be that incident's own switch, so
 * it is not taken as making the alarm stale.
 */
async function checkTraffic(alarm: FreshAlarm, settings: TriggerSettings, ports: TriggerPorts, resuming: boolean): Promise<TrafficCheck> {
    const to = settings.rollbackVersion;
    if (settings.target === "sagemaker") {
        const endpoint = await settledEndpoint(settings, ports);
        if (BUSY_ENDPOINT_STATUSES.includes(endpoint.status)) {
            return {
                kind: "busy",
                why: `endpoint ${settings.endpointName} is ${endpoint.status}: SageMaker is already changing it (its guardrails may be rolling back); checked ${settings.busyRechecks + 1} times`,
            };
        }
        if (!resuming && alarm.firedAt.getTime() < endpoint.lastModified.getTime()) {
            return { kind: "ignore", why: `stale: the alarm fired before the endpoint last changed (${endpoint.lastModified.toISOString()})` };
        }
        const hot = hotDecision(endpoint, settings);
        if (hot?.kind === "already-switched") return { kind: "on-target", why: `endpoint ${settings.endpointName}: ${hot.why}` };
        if (hot?.kind === "refuse") return { kind: "refuse", why: `endpoint ${settings.endpointName}: ${hot.why}; not touching it` };
        if (hot?.kind === "switch") return { kind: "switch", weights: hot };
        if (endpoint.configName === settings.rollbackConfigName)
            return { kind: "on-target", why: `endpoint ${settings.endpointName} already serves version ${to}` };
        if (endpoint.configName !== settings.pinnedConfigName) {
            return {
                kind: "refuse",
                why: `endpoint ${settings.endpointName} serves config ${endpoint.configName}, not the pinned version's ${settings.pinnedConfigName}: someone changed it outside the stack; not touching it`,
            };
        }
        // A hot standby's variant is running its model already; a cold target is checked before the endpoint is pointed at it.
        const problem = await ports.rollbackTargetProblem(settings.rollbackConfigName, settings.rollbackImage);
        if (problem !== undefined) return { kind: "refuse", why: `version ${to} cannot serve: ${problem}; nothing was changed` };
        return { kind: "switch" };
    }
    const kubernetesSwitch = await decideKubernetesSwitch(settings, ports);
    if (kubernetesSwitch === undefined) return { kind: "with-build", how: "" };
    const { target, decision } = kubernetesSwitch;
    if (decision.kind === "already-switched") return { kind: "on-target", why: `Service ${describeService(target)} already selects version ${to}` };
    if (decision.kind === "refuse") return { kind: "refuse", why: `Service ${describeService(target)}: ${decision.why}; left alone` };
    if (decision.kind === "switch") return { kind: "switch", kubernetes: kubernetesSwitch };
    return { kind: "with-build", how: ` (no instant switch: ${decision.why})` };
}

/**
 * Takes the steps that remain of `incident` (trigger/incident.ts decides
 * which) and records each once done. `plan`: the switch its first delivery
 * decided; a retry (`resumed`) decides again on what serves now. An incident that cannot
 * finish (its build does not start) is told once and then fails the
 * invocation, so that Lambda retries it and then keeps it in the
 * dead-letter queue.
 */
async function finishIncident(
    alarm: FreshAlarm,
    incident: Incident,
    plan: SwitchPlan | undefined,
    report: IncidentReport,
    settings: TriggerSettings,
    ports: TriggerPorts,
    resumed = false,
): Promise<TriggerOutcome> {
    const current = settings.pinnedVersion === incident.from && settings.rollbackVersion === incident.to;
    const remaining = remainingSteps(incident.steps, current);
    if (remaining.length === 0) {
        return {
            action: "ignored",
            why: `every step of the rollback ${incident.from} -> ${incident.to} (event ${incident.eventId}) was done by an earlier delivery`,
        };
    }
    let steps = incident.steps;
    const notRecorded: string[] = [];
    const record = async (update: IncidentStepUpdate) => {
        if (!(await ports.recordIncidentStep(incident.eventId, update))) notRecorded.push(Object.keys(update)[0]);
    };

    if (remaining.includes("switch")) {
        const moved = await switchStep(alarm, incident, plan, report, settings, ports);
        if ("outcome" in moved) return moved.outcome;
        steps = { ...steps, traffic: moved.traffic };
        await record({ traffic: moved.traffic });
    }
    let buildError: unknown;
    if (remaining.includes("build")) {
        try {
            const buildId =
                (resumed ? await startedBefore(incident.eventId, ports) : undefined) ??
                (await ports.startReconcile({ version: incident.to, alarmName: incident.alarmName, eventId: incident.eventId }));
            steps = { ...steps, buildId };
            await record({ buildId });
        } catch (error) {
            buildError = error;
        }
    }

    const due = remaining.includes("notify") ? noticeDue(steps.buildId !== undefined, steps.told) : undefined;
    const note = notRecorded.length === 0 ? "" : ` (${notRecorded.join(", ")} not recorded: the rollback record belongs to another event now)`;
    if (steps.buildId !== undefined) {
        const why = `${rolledBackWhy(incident, steps, settings, current)}${note}`;
        if (due === "rolled-back") {
            await report.tell("rolled-back", why);
            await record({ told: "rolled-back" });
        }
        return { action: "rolled-back", why, buildId: steps.buildId };
    }
    const why = `${buildNotStartedWhy(incident, steps, settings, current, buildError)}${note}`;
    if (due === "build-not-started") {
        await report.tell("failed", why);
        await record({ told: "build-not-started" });
    }
    // The stack moved on: what is left is the update's since, not this event's to retry.
    if (!current) return { action: "failed", why };
    throw new UnfinishedIncidentError(
        `rollback ${incident.from} -> ${incident.to} of ${settings.model} (${settings.stack}), alarm event ${incident.eventId}: ${why}`,
    );
}

/**
 * The build an earlier delivery of the event started and could not record
 * (its write failed, or it died in between), so that a retry after
 * CodeBuild's 5-minute idempotency window does not start a second one
 * (which would fail --expect-from and report a misleading "reconcile
 * failed"). A failed lookup (throttling, a role without the permission)
 * leaves it to StartBuild's idempotency token, as before.
 */
async function startedBefore(eventId: string, ports: TriggerPorts): Promise<string | undefined> {
    try {
        return await ports.findReconcile(eventId);
    } catch {
        return undefined;
    }
}

/**
 * The traffic step: the plan's switch, or on a retry a fresh decision on
 * what serves now (traffic found on the target counts as moved: the
 * earlier delivery's switch landed before it could record it). A switch
 * that fails gives the cooldown back and tells people: nothing moved.
 */
async function switchStep(
    alarm: FreshAlarm,
    incident: Incident,
    plan: SwitchPlan | undefined,
    report: IncidentReport,
    settings: TriggerSettings,
    ports: TriggerPorts,
): Promise<{ readonly traffic: TrafficStep } | { readonly outcome: TriggerOutcome }> {
    let decided = plan;
    if (decided === undefined) {
        const check = await checkTraffic(alarm, settings, ports, true);
        if (check.kind === "busy") {
            // An earlier delivery's switch may be what keeps it busy: neither repeat it nor give up the incident.
            throw new UnfinishedIncidentError(
                `rollback ${incident.from} -> ${incident.to} of ${settings.model} (${settings.stack}), alarm event ${incident.eventId}: ${check.why}; its switch may be under way, so a later retry looks again`,
            );
        }
        if (check.kind === "on-target") return { traffic: { state: "moved", how: `${check.why} (found so by a retry of this event)` } };
        if (check.kind === "with-build") return { traffic: { state: "with-build", how: check.how } };
        if (check.kind === "ignore") return { outcome: { action: "ignored", why: check.why } };
        if (check.kind === "refuse") {
            await ports.releaseRollback(incident);
            return { outcome: await report.tell("failed-closed", check.why) };
        }
        decided = check;
    }
    const moved = await moveTraffic(decided, settings, ports);
    if ("how" in moved) return { traffic: { state: "moved", how: moved.how } };
    await ports.releaseRollback(incident);
    return { outcome: await report.tell(moved.action, moved.why) };
}

/**
 * One switch, as decided: the weights call, the Service's selector, or
 * UpdateEndpoint. Returns how traffic moved (as the notice says it), or
 * why it did not (nothing moved).
 */
async function moveTraffic(
    plan: SwitchPlan,
    settings: TriggerSettings,
    ports: TriggerPorts,
): Promise<{ readonly how: string } | { readonly action: "skipped" | "failed-closed" | "failed"; readonly why: string }> {
    const to = settings.rollbackVersion;
    if (plan.weights !== undefined) {
        const moved = await moveWeights(plan.weights, settings, ports);
        if (moved === undefined) {
            return { how: `endpoint ${settings.endpointName} moved to version ${to} with one UpdateEndpointWeightsAndCapacities call (${plan.weights.why})` };
        }
        return {
            action: moved.action,
            why:
                moved.action === "failed-closed"
                    ? moved.why
                    : moved.action === "skipped"
                      ? `${moved.why}; the endpoint still serves ${settings.pinnedVersion}`
                      : // Another error (a timeout, say) may come after the call landed: say what to check, not what is unknown.
                        `${moved.why}; the endpoint should still serve ${settings.pinnedVersion} (mlops status shows which version takes traffic)`,
        };
    }
    if (plan.kubernetes !== undefined && ports.kubernetes !== undefined) {
        const { target, decision } = plan.kubernetes;
        let write;
        try {
            write = await ports.kubernetes.switchSelector(target);
        } catch (error) {
            return {
                action: "failed",
                why: `the switch of Service ${describeService(target)} to version ${to} failed (${messageOf(error)}); it still serves ${settings.pinnedVersion}`,
            };
        }
        if (write.kind === "conflict") {
            // Someone moved the Service between the read and the write: never overwrite that.
            return {
                action: "failed-closed",
                why: `Service ${describeService(target)} stopped selecting version ${settings.pinnedVersion} before the switch (it selects ${write.selected ?? "(none)"}); nothing was written`,
            };
        }
        return { how: `Service ${describeService(target)} moved to version ${to} (${decision.why})` };
    }
    try {
        await ports.updateEndpoint(settings.endpointName, settings.rollbackConfigName, settings.guardrailAlarmNames);
    } catch (error) {
        return { action: "failed", why: `UpdateEndpoint to version ${to} failed (${messageOf(error)}); the endpoint still serves ${settings.pinnedVersion}` };
    }
    return { how: `endpoint ${settings.endpointName} moved to version ${to}` };
}

/** The rollback notice: how traffic moved and the build that records it. */
function rolledBackWhy(incident: Incident, steps: IncidentSteps, settings: TriggerSettings, current: boolean): string {
    const { traffic } = steps;
    const done =
        traffic.state === "moved"
            ? `${traffic.how}; reconcile build ${steps.buildId} ${settings.target === "sagemaker" ? "pins" : "records"} it in the stack`
            : `reconcile build ${steps.buildId} runs mlops rollback --version ${incident.to}${traffic.state === "with-build" ? traffic.how : ""}`;
    const retried = steps.told === "build-not-started" ? " (started by a retry of this event, after the notice that it had not)" : "";
    return `${done}${retried}${current ? "" : stackMovedOn(settings)}`;
}

/** The notice of a build that did not start: where traffic is, what happens next, and how to finish by hand. */
function buildNotStartedWhy(incident: Incident, steps: IncidentSteps, settings: TriggerSettings, current: boolean, error: unknown): string {
    const traffic = steps.traffic.state === "moved" ? `traffic is on ${incident.to}, but ` : `nothing changed: traffic is still on ${incident.from}; `;
    if (!current) return `${traffic}the reconcile build never started${stackMovedOn(settings)}; mlops status --stack ${settings.stack} shows what serves`;
    const cause = error === undefined ? "" : ` (${clipped(messageOf(error))})`;
    return `${traffic}the reconcile build did not start${cause}; the trigger starts it on Lambda's retries of this event and says so; if no "rolled back" notice follows, finish it by hand with ${finishByHand(settings, incident.from, incident.to)}`;
}

function stackMovedOn(settings: TriggerSettings): string {
    return `; the stack has been updated since (it pins ${settings.pinnedVersion} now), so the trigger leaves the rest to that update`;
}

/**
 * An incident that could not finish: thrown so that Lambda retries the
 * event and, after its retries, keeps it in the dead-letter queue with this
 * message (its first 1 KB: the DLQ message's ErrorMessage attribute), which
 * says where things stand and how to finish by hand.
 */
export class UnfinishedIncidentError extends Error {
    override readonly name = "UnfinishedIncidentError";
}

/** A notice SNS did not take; its message carries the notice, so that the dead-letter queue holds what people were not told. */
export class NoticeNotSentError extends Error {
    override readonly name = "NoticeNotSentError";
}

/**
 * The Kubernetes instant switch's decision (rollback/kubernetesSwitch.ts,
 * decideSwitch), made on what the cluster shows; undefined without one
 * (SageMaker, or Kubernetes without `mlops:trigger.eks`).
 */
async function decideKubernetesSwitch(
    settings: TriggerSettings,
    ports: TriggerPorts,
): Promise<{ readonly target: SwitchTarget; readonly decision: SwitchDecision } | undefined> {
    if (settings.target !== "kubernetes" || settings.eks === undefined || ports.kubernetes === undefined || settings.rollbackVersion === undefined) {
        return undefined;
    }
    const { kubernetes } = settings;
    const target: SwitchTarget = {
        namespace: kubernetes.namespace,
        serviceName: kubernetes.serviceName,
        from: settings.pinnedVersion,
        to: settings.rollbackVersion,
        targetDeployment: kubernetes.rollbackDeployment,
    };
    const decision = decideSwitch(
        await ports.kubernetes.observe(target),
        { ...target, leaving: [settings.pinnedVersion] },
        {
            replicas: kubernetes.replicas,
            atReducedCapacity: kubernetes.atReducedCapacity,
            startupTimeoutSeconds: kubernetes.startupTimeoutSeconds,
        },
    );
    return { target, decision };
}

const describeService = (target: SwitchTarget): string => `${target.namespace}/${target.serviceName}`;

/**
 * Under hot standby with the rollback target a variant of the endpoint's
 * config: the weights decision (rollback/sagemakerWeightsSwitch.ts) on what
 * DescribeEndpoint showed. One call (weight and count together: a Lambda
 * does not wait minutes for instances). Undefined under cold standby, or
 * when the target is not in the config (then the cold fast path).
 */
function hotDecision(endpoint: EndpointState, settings: TriggerSettings): WeightsDecision | undefined {
    const hot = settings.hotStandby;
    if (hot === undefined || settings.rollbackVersion === undefined || variantOf(hot.record, settings.rollbackVersion) === undefined) return undefined;
    return decideWeightsSwitch(
        { status: endpoint.status, configName: endpoint.configName, variants: endpoint.variants ?? [] },
        {
            configName: settings.pinnedConfigName,
            record: hot.record,
            from: settings.pinnedVersion,
            to: settings.rollbackVersion,
            instanceCount: hot.instanceCount,
            atReducedCapacity: true,
        },
    );
}

/**
 * The weights call. Refused because SageMaker became busy with the endpoint
 * after the check: wait as the check does (bounded), decide again on what
 * the endpoint shows then (another config or weight moved meanwhile is
 * refused, never overwritten with the first decision), and call once more;
 * never a second call while one may be in flight. Undefined when the weight
 * is on the target (moved by this call or by someone else meanwhile), else
 * what happened: busy (skipped), refused by the fresh decision (fail
 * closed), or another error (failed).
 */
async function moveWeights(
    decided: Extract<WeightsDecision, { kind: "switch" }>,
    settings: TriggerSettings,
    ports: TriggerPorts,
): Promise<{ readonly why: string; readonly action: "skipped" | "failed-closed" | "failed" } | undefined> {
    let decision = decided;
    for (let attempt = 1; ; attempt++) {
        try {
            await ports.updateWeights(settings.endpointName, decision.calls[0]);
            return undefined;
        } catch (error) {
            const why = `UpdateEndpointWeightsAndCapacities to version ${settings.rollbackVersion} failed (${messageOf(error)})`;
            if (!isInProgressRefusal(error)) return { why, action: "failed" };
            if (attempt > 1) return { why, action: "skipped" };
            // A turn first: DescribeEndpoint may still show InService just after the change that made the call refused.
            await ports.sleep(settings.busyRecheckSeconds * 1000);
            const endpoint = await settledEndpoint(settings, ports);
            if (BUSY_ENDPOINT_STATUSES.includes(endpoint.status)) {
                return {
                    why: `${why}, and endpoint ${settings.endpointName} was still ${endpoint.status} after ${settings.busyRechecks + 1} checks`,
                    action: "skipped",
                };
            }
            const again = hotDecision(endpoint, settings);
            if (again?.kind === "already-switched") return undefined;
            if (again?.kind !== "switch") {
                return {
                    why: `${why}; then endpoint ${settings.endpointName}: ${again?.why ?? "its config no longer holds the target"}; not touching it`,
                    action: "failed-closed",
                };
            }
            decision = again;
        }
    }
}

/** DescribeEndpoint, re-checked a bounded number of times while SageMaker is busy with it. */
function settledEndpoint(settings: TriggerSettings, ports: TriggerPorts): Promise<EndpointState> {
    return readWhileSettling(
        () => ports.describeEndpoint(settings.endpointName),
        (endpoint) => BUSY_ENDPOINT_STATUSES.includes(endpoint.status),
        { rechecks: settings.busyRechecks, intervalSeconds: settings.busyRecheckSeconds, sleep: (ms) => ports.sleep(ms) },
    );
}

/** Tells people what the handler did about an incident: one SNS message per decision. */
class IncidentReport {
    constructor(
        private readonly settings: TriggerSettings,
        private readonly alarm: FreshAlarm,
        private readonly ports: TriggerPorts,
        /** The incident's versions: the settings' unless a resumed incident's record says otherwise. */
        private readonly versions: { readonly from: string; readonly to?: string } = { from: settings.pinnedVersion, to: settings.rollbackVersion },
    ) {}

    /** The report of a recorded incident, in its own versions (the settings may have moved on since). */
    about(incident: RollbackRecord): IncidentReport {
        return new IncidentReport(this.settings, this.alarm, this.ports, { from: incident.from, to: incident.to });
    }

    async tell(action: Exclude<TriggerAction, "ignored" | "rejected">, why: string): Promise<TriggerOutcome> {
        const { settings, alarm, versions } = this;
        const subject = `mlops ${HEADLINE[action]}: ${settings.model} (${settings.stack}) ${versions.from} -> ${versions.to ?? "none"}`;
        const message = {
            action,
            why,
            model: settings.model,
            stack: settings.stack,
            from: versions.from,
            to: versions.to ?? null,
            alarm: alarm.alarmName,
            alarmReason: alarm.reason,
            firedAt: alarm.firedAt.toISOString(),
            eventId: alarm.eventId,
        };
        await publishNotice(this.ports, subject, message);
        return { action, why };
    }
}

/**
 * Publishes a notice under a subject SNS takes (`snsSubject`). A refusal
 * fails the invocation with the notice in the error, so that what people
 * were not told reaches the dead-letter queue after Lambda's retries.
 */
async function publishNotice(ports: TriggerPorts, subject: string, message: { readonly why: string }): Promise<void> {
    const safeSubject = snsSubject(subject);
    try {
        await ports.publish(safeSubject, JSON.stringify(message, null, 2));
    } catch (error) {
        throw new NoticeNotSentError(`the notice "${safeSubject}" was not sent (${clipped(messageOf(error))}): ${message.why}`, { cause: error });
    }
}

const HEADLINE: Record<Exclude<TriggerAction, "ignored" | "rejected">, string> = {
    skipped: "rollback skipped",
    "failed-closed": "rollback refused",
    failed: "rollback failed",
    "rolled-back": "rolled back",
};

function messageOf(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}

/** An AWS error's message, short enough that the notice around it fits the DLQ's 1 KB ErrorMessage. */
function clipped(text: string): string {
    return text.length <= 200 ? text : `${text.slice(0, 197)}...`;
}
