/**
 * The alarm-triggered rollback: from one EventBridge event to at most one
 * traffic restore, one reconcile build and one notification.
 *
 * Order matters. Everything that can refuse (event triage, dedupe, cooldown,
 * endpoint state, the target's existence) runs before anything changes, so
 * a refusal touches nothing. The cooldown is claimed with a conditional
 * write just before the restore, so two deliveries racing past the checks
 * still restore once.
 */
import { triageAlarmEvent, type FreshAlarm } from "./alarmEvent";
import { readWhileSettling, SETTLING_STATUSES } from "../rollback/endpointSettle";
import { isBuildStateChange, triageBuildEvent } from "./buildEvent";
import type { TriggerSettings } from "./settings";

/** What the endpoint reports (DescribeEndpoint). */
export interface EndpointState {
    readonly status: string;
    readonly configName: string;
    readonly lastModified: Date;
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
    /** Records an event id; false when it was recorded before (a redelivery). */
    recordEvent(eventId: string): Promise<boolean>;
    /** Forgets an event id whose handling failed, so that a retry handles it. */
    forgetEvent(eventId: string): Promise<void>;
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
    /** Starts the reconcile build (idempotent per event id); returns the build id. */
    startReconcile(request: { readonly version: string; readonly alarmName: string; readonly eventId: string }): Promise<string>;
    publish(subject: string, message: string): Promise<void>;
    sleep(milliseconds: number): Promise<void>;
}

export type TriggerAction =
    /** Not ours, not new, or already handled: logged, nobody told. */
    | "ignored"
    /** A real incident we chose not to act on (cooldown, SageMaker busy): people are told. */
    | "skipped"
    /** The rollback target cannot serve: nothing touched, people are told. */
    | "failed-closed"
    /** A step failed after the checks; people are told what state things are in. */
    | "failed"
    /** Traffic restored (SageMaker) or the reconcile started (Kubernetes). */
    | "rolled-back";

export interface TriggerOutcome {
    readonly action: TriggerAction;
    readonly why: string;
    readonly buildId?: string;
}

/** The Lambda's two event kinds: the composite alarm's state changes, and the reconcile build's end. */
export async function handleTriggerEvent(
    event: unknown,
    settings: TriggerSettings,
    ports: TriggerPorts,
    now: () => Date = () => new Date(),
): Promise<TriggerOutcome> {
    return isBuildStateChange(event) ? handleBuildEnd(event, settings, ports) : handleAlarmEvent(event, settings, ports, now);
}

/**
 * A reconcile build that failed or was stopped: on SageMaker traffic is on
 * the restored version while the stack still pins the bad one (and does not
 * quarantine it); on Kubernetes nothing changed. Either way a person must
 * finish the rollback, so say exactly how.
 */
async function handleBuildEnd(event: Parameters<typeof triageBuildEvent>[0], settings: TriggerSettings, ports: TriggerPorts): Promise<TriggerOutcome> {
    const triage = triageBuildEvent(event, settings.runnerProject);
    if (triage.kind === "ignore") return { action: "ignored", why: triage.why };
    const { build } = triage;
    const from = build.from ?? settings.pinnedVersion;
    const to = build.to ?? settings.rollbackVersion ?? "?";
    const state =
        settings.target === "sagemaker"
            ? `traffic is on ${to} (restored by the alarm trigger), but the stack still pins ${from} and has not quarantined it`
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
        eventId: event.id,
    };
    await ports.publish(subject.slice(0, 100), JSON.stringify(message, null, 2));
    return { action: "failed", why };
}

/** SageMaker statuses in which SageMaker itself is changing the endpoint (or removing it): leave it alone. */
export const BUSY_ENDPOINT_STATUSES = [...SETTLING_STATUSES, "Deleting"];

export async function handleAlarmEvent(
    event: unknown,
    settings: TriggerSettings,
    ports: TriggerPorts,
    now: () => Date = () => new Date(),
): Promise<TriggerOutcome> {
    const triage = triageAlarmEvent(event, settings.alarmName, settings.maxEventAgeSeconds, now());
    if (triage.kind === "ignore") return { action: "ignored", why: triage.why };
    const alarm = triage.alarm;

    if (!(await ports.recordEvent(alarm.eventId))) return { action: "ignored", why: `event ${alarm.eventId} was handled before (EventBridge redelivery)` };
    try {
        return await handleFreshAlarm(alarm, settings, ports, now);
    } catch (error) {
        // An unexpected failure (throttling, access denied) must not turn the
        // retries Lambda and EventBridge make into "handled before": forget
        // the event so that a retry handles it again. The cooldown claim
        // still keeps a retry from restoring twice.
        await ports.forgetEvent(alarm.eventId);
        throw error;
    }
}

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
        if (sinceSeconds < settings.cooldownSeconds && cooldownCovers(last, settings.pinnedVersion)) {
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
        if (endpoint.configName === settings.rollbackConfigName) {
            return { action: "ignored", why: `endpoint ${settings.endpointName} already serves version ${settings.rollbackVersion}` };
        }
        if (endpoint.configName !== settings.pinnedConfigName) {
            return rollback.tell(
                "failed-closed",
                `endpoint ${settings.endpointName} serves config ${endpoint.configName}, not the pinned version's ${settings.pinnedConfigName}: someone changed it outside the stack; not touching it`,
            );
        }
        const problem = await ports.rollbackTargetProblem(settings.rollbackConfigName, settings.rollbackImage);
        if (problem !== undefined) return rollback.tell("failed-closed", `version ${settings.rollbackVersion} cannot serve: ${problem}; nothing was changed`);
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

    if (settings.target === "sagemaker") {
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

    let buildId: string;
    try {
        buildId = await ports.startReconcile({ version: settings.rollbackVersion, alarmName: alarm.alarmName, eventId: alarm.eventId });
    } catch (error) {
        const traffic =
            settings.target === "sagemaker"
                ? `traffic is on ${settings.rollbackVersion}, but `
                : `nothing changed: traffic is still on ${settings.pinnedVersion}; `;
        return rollback.tell(
            "failed",
            `${traffic}the reconcile build did not start (${messageOf(error)}); run mlops rollback --version ${settings.rollbackVersion} by hand`,
        );
    }
    const done =
        settings.target === "sagemaker"
            ? `endpoint ${settings.endpointName} moved to version ${settings.rollbackVersion}; reconcile build ${buildId} pins it in the stack`
            : `reconcile build ${buildId} runs mlops rollback --version ${settings.rollbackVersion}`;
    const outcome = await rollback.tell("rolled-back", done);
    return { ...outcome, buildId };
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
