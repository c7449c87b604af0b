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
 * delivery that died holding it. What is left: a delivery that dies after
 * publishing and before recording is told again by its retry, twice rather
 * than never. Not yet covered: an alarm delivery that dies after claiming
 * the cooldown (rollbackOnce) and before its notice; its retry finds the
 * cooldown taken and is ignored, so that incident's notice (and any step
 * after the claim) is not finished on retry. Recording each step of an
 * incident so that a retry can finish it is still to do.
 */
import { triageAlarmEvent, type FreshAlarm } from "./alarmEvent";
import { BUSY_ENDPOINT_STATUSES, readWhileSettling } from "../rollback/endpointSettle";
import { isBuildStateChange, triageBuildEvent, type BuildStateChangeEvent, type FailedReconcile } from "./buildEvent";
import type { TriggerSettings } from "./settings";
import { decideSwitch, type SwitchDecision, type SwitchTarget, type TrafficSwitch } from "../rollback/kubernetesSwitch";
import { decideWeightsSwitch, isInProgressRefusal, type WeightsDecision } from "../rollback/sagemakerWeightsSwitch";
import { variantOf } from "../catalog/endpointVariants";
import type { LiveVariant, VariantCall } from "../components/endpointVariantWeights";

/** What the endpoint reports (DescribeEndpoint). */
export interface EndpointState {
    readonly status: string;
    readonly configName: string;
    readonly lastModified: Date;
    /** Each production variant's live weight and instance count. @default [] */
    readonly variants?: readonly LiveVariant[];
}

/** The last automatic rollback of this stack, kept in the state table. */
export interface RollbackRecord {
    readonly at: Date;
    readonly alarmName: string;
    readonly eventId: string;
    readonly from: string;
    readonly to: string;
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
    /** Starts the reconcile build (idempotent per event id); returns the build id. */
    startReconcile(request: { readonly version: string; readonly alarmName: string; readonly eventId: string }): Promise<string>;
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
    | { readonly kind: "ignore"; readonly why: string }
    | {
          readonly kind: "act";
          readonly dedupeKey: string;
          /** Why a delivery finding the key handled does nothing. */
          readonly handledBefore: string;
          readonly act: () => Promise<TriggerOutcome>;
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
    if (triage.kind === "ignore") return triage;
    const alarm = triage.alarm;
    return {
        kind: "act",
        dedupeKey: `event#${alarm.eventId}`,
        handledBefore: `event ${alarm.eventId} was handled before (EventBridge redelivery)`,
        act: () => handleFreshAlarm(alarm, settings, ports, now),
    };
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
    if (triage.kind === "ignore") return triage;
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
    if (work.kind === "ignore") return { action: "ignored", why: work.why };
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
    const fix = `mlops rollback --stack ${settings.stack} --version ${to} --expect-from ${from}${settings.target === "sagemaker" ? " --after-fast-path" : ""}`;
    const why = `reconcile build ${build.buildId} ${build.status.toLowerCase()}: ${state}; finish it by hand with ${fix}`;
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
    await ports.publish(subject.slice(0, 100), JSON.stringify(message, null, 2));
    return { action: "failed", why };
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
    const rollback = new IncidentReport(settings, alarm, ports);
    if (settings.rollbackVersion === undefined) {
        return rollback.tell(
            "failed-closed",
            `no warm version precedes ${settings.pinnedVersion}, so there is nothing to restore instantly; roll back by hand`,
        );
    }

    const last = await ports.lastRollback();
    if (last !== undefined) {
        if (alarm.firedAt.getTime() < last.at.getTime()) {
            return { action: "ignored", why: `stale: the alarm fired before the last automatic rollback (${last.at.toISOString()})` };
        }
        const sinceSeconds = (now().getTime() - last.at.getTime()) / 1000;
        // At or inside the cooldown, as claimRollback counts it (a rollback at notBefore still covers).
        if (sinceSeconds <= settings.cooldownSeconds && cooldownCovers(last, settings.pinnedVersion)) {
            if (last.to === settings.pinnedVersion) {
                return rollback.tell(
                    "skipped",
                    `version ${last.to} was restored by a rollback ${Math.round(sinceSeconds)} s ago and is failing too; no rollback of a rollback within the ${settings.cooldownSeconds} s cooldown; roll back by hand (mlops rollback) if it must go`,
                );
            }
            // The same incident again (an alarm storm, a flapping alarm): people were told once.
            return { action: "ignored", why: `the rollback ${last.from} -> ${last.to} of ${Math.round(sinceSeconds)} s ago is still being reconciled` };
        }
    }

    const triggerUpdated = await ports.triggerLastUpdated();
    if (triggerUpdated !== undefined && alarm.firedAt.getTime() < triggerUpdated.getTime()) {
        return {
            action: "ignored",
            why: `stale: the alarm fired before the stack last updated this trigger (${triggerUpdated.toISOString()}), e.g. for a new pin`,
        };
    }

    let weightsSwitch: Extract<WeightsDecision, { kind: "switch" }> | undefined;
    if (settings.target === "sagemaker") {
        const endpoint = await settledEndpoint(settings, ports);
        if (BUSY_ENDPOINT_STATUSES.includes(endpoint.status)) {
            return rollback.tell(
                "skipped",
                `endpoint ${settings.endpointName} is ${endpoint.status}: SageMaker is already changing it (its guardrails may be rolling back); checked ${settings.busyRechecks + 1} times`,
            );
        }
        if (alarm.firedAt.getTime() < endpoint.lastModified.getTime()) {
            return { action: "ignored", why: `stale: the alarm fired before the endpoint last changed (${endpoint.lastModified.toISOString()})` };
        }
        const hot = hotDecision(endpoint, settings);
        if (hot?.kind === "already-switched") return { action: "ignored", why: `endpoint ${settings.endpointName}: ${hot.why}` };
        if (hot?.kind === "refuse") return rollback.tell("failed-closed", `endpoint ${settings.endpointName}: ${hot.why}; not touching it`);
        if (hot?.kind === "switch") {
            weightsSwitch = hot;
        } else {
            if (endpoint.configName === settings.rollbackConfigName) {
                return { action: "ignored", why: `endpoint ${settings.endpointName} already serves version ${settings.rollbackVersion}` };
            }
            if (endpoint.configName !== settings.pinnedConfigName) {
                return rollback.tell(
                    "failed-closed",
                    `endpoint ${settings.endpointName} serves config ${endpoint.configName}, not the pinned version's ${settings.pinnedConfigName}: someone changed it outside the stack; not touching it`,
                );
            }
            // A hot standby's variant is running its model already; a cold target is checked before the endpoint is pointed at it.
            const problem = await ports.rollbackTargetProblem(settings.rollbackConfigName, settings.rollbackImage);
            if (problem !== undefined)
                return rollback.tell("failed-closed", `version ${settings.rollbackVersion} cannot serve: ${problem}; nothing was changed`);
        }
    }

    const kubernetesSwitch = await decideKubernetesSwitch(settings, ports);
    if (kubernetesSwitch?.decision.kind === "already-switched") {
        return { action: "ignored", why: `Service ${describeService(kubernetesSwitch.target)} already selects version ${settings.rollbackVersion}` };
    }
    if (kubernetesSwitch?.decision.kind === "refuse") {
        return rollback.tell("failed-closed", `Service ${describeService(kubernetesSwitch.target)}: ${kubernetesSwitch.decision.why}; left alone`);
    }

    const record: RollbackRecord = {
        at: now(),
        alarmName: alarm.alarmName,
        eventId: alarm.eventId,
        from: settings.pinnedVersion,
        to: settings.rollbackVersion,
    };
    const notBefore = new Date(record.at.getTime() - settings.cooldownSeconds * 1000);
    if (!(await ports.claimRollback(record, notBefore))) {
        return { action: "ignored", why: "another delivery of this incident claimed the rollback first" };
    }

    if (weightsSwitch !== undefined) {
        const moved = await moveWeights(weightsSwitch, settings, ports);
        if (moved !== undefined) {
            await ports.releaseRollback(record);
            return rollback.tell(
                moved.action,
                moved.action === "failed-closed"
                    ? moved.why
                    : moved.action === "skipped"
                      ? `${moved.why}; the endpoint still serves ${settings.pinnedVersion}`
                      : // Another error (a timeout, say) may come after the call landed: say what to check, not what is unknown.
                        `${moved.why}; the endpoint should still serve ${settings.pinnedVersion} (mlops status shows which version takes traffic)`,
            );
        }
    } else if (settings.target === "sagemaker") {
        try {
            await ports.updateEndpoint(settings.endpointName, settings.rollbackConfigName, settings.guardrailAlarmNames);
        } catch (error) {
            await ports.releaseRollback(record);
            return rollback.tell(
                "failed",
                `UpdateEndpoint to version ${settings.rollbackVersion} failed (${messageOf(error)}); the endpoint still serves ${settings.pinnedVersion}`,
            );
        }
    }

    const switched = kubernetesSwitch?.decision.kind === "switch";
    if (switched && kubernetesSwitch !== undefined && ports.kubernetes !== undefined) {
        let write;
        try {
            write = await ports.kubernetes.switchSelector(kubernetesSwitch.target);
        } catch (error) {
            await ports.releaseRollback(record);
            return rollback.tell(
                "failed",
                `the switch of Service ${describeService(kubernetesSwitch.target)} to version ${settings.rollbackVersion} failed (${messageOf(error)}); it still serves ${settings.pinnedVersion}`,
            );
        }
        if (write.kind === "conflict") {
            // Someone moved the Service between the read and the write: never overwrite that.
            await ports.releaseRollback(record);
            return rollback.tell(
                "failed-closed",
                `Service ${describeService(kubernetesSwitch.target)} stopped selecting version ${settings.pinnedVersion} before the switch (it selects ${write.selected ?? "(none)"}); nothing was written`,
            );
        }
    }

    let buildId: string;
    try {
        buildId = await ports.startReconcile({ version: settings.rollbackVersion, alarmName: alarm.alarmName, eventId: alarm.eventId });
    } catch (error) {
        const traffic =
            settings.target === "sagemaker" || switched
                ? `traffic is on ${settings.rollbackVersion}, but `
                : `nothing changed: traffic is still on ${settings.pinnedVersion}; `;
        return rollback.tell(
            "failed",
            `${traffic}the reconcile build did not start (${messageOf(error)}); run mlops rollback --version ${settings.rollbackVersion} by hand`,
        );
    }
    const done =
        weightsSwitch !== undefined
            ? `endpoint ${settings.endpointName} moved to version ${settings.rollbackVersion} with one UpdateEndpointWeightsAndCapacities call (${weightsSwitch.why}); reconcile build ${buildId} pins it in the stack`
            : settings.target === "sagemaker"
              ? `endpoint ${settings.endpointName} moved to version ${settings.rollbackVersion}; reconcile build ${buildId} pins it in the stack`
              : switched && kubernetesSwitch !== undefined
                ? `Service ${describeService(kubernetesSwitch.target)} moved to version ${settings.rollbackVersion} (${kubernetesSwitch.decision.why}); reconcile build ${buildId} records it in the stack`
                : `reconcile build ${buildId} runs mlops rollback --version ${settings.rollbackVersion}${kubernetesSwitch === undefined ? "" : ` (no instant switch: ${kubernetesSwitch.decision.why})`}`;
    const outcome = await rollback.tell("rolled-back", done);
    return { ...outcome, buildId };
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
    ) {}

    async tell(action: Exclude<TriggerAction, "ignored">, why: string): Promise<TriggerOutcome> {
        const { settings, alarm } = this;
        const target = settings.rollbackVersion ?? "none";
        const subject = `mlops ${HEADLINE[action]}: ${settings.model} (${settings.stack}) ${settings.pinnedVersion} -> ${target}`;
        const message = JSON.stringify(
            {
                action,
                why,
                model: settings.model,
                stack: settings.stack,
                from: settings.pinnedVersion,
                to: settings.rollbackVersion ?? null,
                alarm: alarm.alarmName,
                alarmReason: alarm.reason,
                firedAt: alarm.firedAt.toISOString(),
                eventId: alarm.eventId,
            },
            null,
            2,
        );
        // SNS subjects: at most 100 characters.
        await this.ports.publish(subject.slice(0, 100), message);
        return { action, why };
    }
}

const HEADLINE: Record<Exclude<TriggerAction, "ignored">, string> = {
    skipped: "rollback skipped",
    "failed-closed": "rollback refused",
    failed: "rollback failed",
    "rolled-back": "rolled back",
};

function messageOf(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}
