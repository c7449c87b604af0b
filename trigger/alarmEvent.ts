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

export type EventTriage = { readonly kind: "act"; readonly alarm: FreshAlarm } | { readonly kind: "ignore"; readonly why: string };

/**
 * EventBridge delivers at least once and retries for up to a day, and alarms
 * flap: only the transition into ALARM of the one alarm this stack owns,
 * within `maxAgeSeconds` of now, is worth acting on.
 */
export function triageAlarmEvent(event: unknown, alarmName: string, maxAgeSeconds: number, now: Date): EventTriage {
    if (!isAlarmStateChange(event)) return { kind: "ignore", why: "not a CloudWatch Alarm State Change event" };
    const { detail } = event;
    if (detail.alarmName !== alarmName) return { kind: "ignore", why: `alarm '${detail.alarmName}' is not this stack's alarm '${alarmName}'` };
    if (detail.state.value !== "ALARM") return { kind: "ignore", why: `alarm state is ${detail.state.value}, not ALARM` };
    if (detail.previousState?.value === "ALARM") return { kind: "ignore", why: "the alarm was already in ALARM: not a new incident" };
    const firedAt = new Date(detail.state.timestamp ?? event.time);
    if (Number.isNaN(firedAt.getTime())) return { kind: "ignore", why: `unreadable event time '${detail.state.timestamp ?? event.time}'` };
    const ageSeconds = (now.getTime() - firedAt.getTime()) / 1000;
    if (ageSeconds > maxAgeSeconds) {
        return { kind: "ignore", why: `stale: the alarm fired ${Math.round(ageSeconds)} s ago, more than the ${maxAgeSeconds} s an event stays actionable` };
    }
    return { kind: "act", alarm: { eventId: event.id, alarmName, firedAt, reason: detail.state.reason ?? "" } };
}

function isAlarmStateChange(event: unknown): event is AlarmStateChangeEvent {
    if (typeof event !== "object" || event === null) return false;
    const candidate = event as Partial<AlarmStateChangeEvent>;
    return (
        candidate["detail-type"] === ALARM_STATE_CHANGE &&
        candidate.source === "aws.cloudwatch" &&
        typeof candidate.id === "string" &&
        typeof candidate.time === "string" &&
        typeof candidate.detail?.alarmName === "string" &&
        typeof candidate.detail.state?.value === "string"
    );
}
