/**
 * The EventBridge event a CloudWatch alarm emits when its state changes,
 * and the first, pure decision on it: is this a fresh ALARM of our alarm,
 * recent enough to act on?
 */

/** The fields of a `CloudWatch Alarm State Change` event the handler reads. */
export interface AlarmStateChangeEvent {
    readonly id: string;
    readonly "detail-type": string;
    readonly source: string;
    readonly time: string;
    readonly detail: {
        readonly alarmName: string;
        readonly state: { readonly value: string; readonly reason?: string; readonly timestamp?: string };
        readonly previousState?: { readonly value: string };
    };
}

export const ALARM_STATE_CHANGE = "CloudWatch Alarm State Change";

/** A fresh ALARM of our alarm, with the time it entered ALARM. */
export interface FreshAlarm {
    readonly eventId: string;
    readonly alarmName: string;
    readonly firedAt: Date;
    readonly reason: string;
}

export type EventTriage =
    | { readonly kind: "act"; readonly alarm: FreshAlarm }
    | {
          readonly kind: "ignore";
          readonly why: string;
          /**
           * Set when the event is our alarm's new ALARM and only its age
           * (over `maxAgeSeconds`) keeps it from acting: a retry of the event
           * that owns an unfinished incident is still acted on, to finish that
           * incident (its first delivery passed this check, and Lambda's and
           * EventBridge's retries come later).
           */
          readonly stale?: FreshAlarm;
      }
    /** Says it is an alarm state change but is not shaped like one: nothing to act on, and a retry would fail the same way. */
    | { readonly kind: "reject"; readonly why: string };

/**
 * How far past now an event's time may be and still count as now. AWS
 * stamps these events with its own clocks, which disagree by far less;
 * SigV4 lets a request's clock be 5 minutes off, and so does this. An
 * event from further in the future would pass every "fired before ..."
 * check the handler makes, whatever happened since.
 */
export const CLOCK_SKEW_ALLOWANCE_SECONDS = 300;

/**
 * EventBridge delivers at least once and retries for up to a day, and alarms
 * flap: only the transition into ALARM of the one alarm this stack owns,
 * within `maxAgeSeconds` of now and not from the future (beyond
 * `CLOCK_SKEW_ALLOWANCE_SECONDS`), is worth acting on (an event too old
 * carries the alarm in `stale`: the handler finishes the incident it may own).
 * A retry's event never comes from the future when its first delivery did not. An event that says it
 * is a CloudWatch Alarm State Change but lacks a field the handler reads, or
 * has it of another type, is rejected with the field's path.
 */
export function triageAlarmEvent(event: unknown, alarmName: string, maxAgeSeconds: number, now: Date): EventTriage {
    if (!saysAlarmStateChange(event)) return { kind: "ignore", why: "not a CloudWatch Alarm State Change event" };
    const problem = alarmEventProblem(event);
    if (problem !== undefined) return { kind: "reject", why: `malformed CloudWatch Alarm State Change event: ${problem}` };
    const { detail } = event as AlarmStateChangeEvent;
    if (detail.alarmName !== alarmName) return { kind: "ignore", why: `alarm '${detail.alarmName}' is not this stack's alarm '${alarmName}'` };
    if (detail.state.value !== "ALARM") return { kind: "ignore", why: `alarm state is ${detail.state.value}, not ALARM` };
    if (detail.previousState?.value === "ALARM") return { kind: "ignore", why: "the alarm was already in ALARM: not a new incident" };
    const { time, id } = event as AlarmStateChangeEvent;
    const firedAt = new Date(detail.state.timestamp ?? time);
    if (Number.isNaN(firedAt.getTime())) {
        return { kind: "reject", why: `malformed CloudWatch Alarm State Change event: unreadable event time '${detail.state.timestamp ?? time}'` };
    }
    // Both stamps: the state change's (when the alarm fired) and EventBridge's (when it was sent).
    for (const [field, stamp] of [
        ["detail.state.timestamp", firedAt],
        ["time", new Date(time)],
    ] as const) {
        const aheadSeconds = (stamp.getTime() - now.getTime()) / 1000;
        if (aheadSeconds > CLOCK_SKEW_ALLOWANCE_SECONDS) {
            return {
                kind: "ignore",
                why: `from the future: its ${field} (${stamp.toISOString()}) is ${Math.round(aheadSeconds)} s ahead of now, more than the ${CLOCK_SKEW_ALLOWANCE_SECONDS} s of clock skew allowed`,
            };
        }
    }
    const ageSeconds = (now.getTime() - firedAt.getTime()) / 1000;
    const alarm: FreshAlarm = { eventId: id, alarmName, firedAt, reason: detail.state.reason ?? "" };
    if (ageSeconds > maxAgeSeconds) {
        return {
            kind: "ignore",
            why: `stale: the alarm fired ${Math.round(ageSeconds)} s ago, more than the ${maxAgeSeconds} s an event stays actionable`,
            stale: alarm,
        };
    }
    return { kind: "act", alarm };
}

function saysAlarmStateChange(event: unknown): boolean {
    if (typeof event !== "object" || event === null) return false;
    const candidate = event as { "detail-type"?: unknown; source?: unknown };
    return candidate["detail-type"] === ALARM_STATE_CHANGE && candidate.source === "aws.cloudwatch";
}

/** The first field of an alarm state change that the handler reads and cannot, by its path; undefined when it can read them all. */
function alarmEventProblem(event: unknown): string | undefined {
    const candidate = event as Record<string, unknown>;
    if (typeof candidate.id !== "string" || candidate.id === "") return "id is not a non-empty string";
    if (typeof candidate.time !== "string") return "time is not a string";
    const detail = candidate.detail as Record<string, unknown> | null | undefined;
    if (typeof detail !== "object" || detail === null) return "detail is not an object";
    if (typeof detail.alarmName !== "string") return "detail.alarmName is not a string";
    const state = detail.state as Record<string, unknown> | null | undefined;
    if (typeof state !== "object" || state === null) return "detail.state is not an object";
    if (typeof state.value !== "string") return "detail.state.value is not a string";
    for (const field of ["reason", "timestamp"] as const) {
        if (state[field] !== undefined && typeof state[field] !== "string") return `detail.state.${field} is not a string`;
    }
    const previous = detail.previousState as Record<string, unknown> | null | undefined;
    if (previous !== undefined && (typeof previous !== "object" || previous === null || typeof previous.value !== "string")) {
        return "detail.previousState is not an object with a string value";
    }
    return undefined;
}
