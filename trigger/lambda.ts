/**
 * The Lambda entry point (bundled by `AlarmRollbackTrigger` with esbuild).
 * Settings and clients are made once per container (the cluster's token,
 * for the EKS instant switch, once per call); each event is handled
 * by `handleTriggerEvent` (an alarm, or the reconcile build's end, each
 * deduplicated), and its outcome logged as one JSON line: `ignored`,
 * `rejected` (malformed), a notice's action, or `unfinished` for an event
 * that fails the invocation (Lambda retries it, then its dead-letter queue
 * keeps it).
 */
import { awsTriggerPorts } from "./awsTriggerPorts";
import { eksClusterSwitch } from "./clusterSwitch";
import { handleTriggerEvent, type TriggerOutcome } from "./handleAlarmEvent";
import { triggerSettingsFromEnv } from "./settings";

const settings = triggerSettingsFromEnv(process.env);
// AWS_REGION: set by Lambda in every function's environment.
const ports = {
    ...awsTriggerPorts(settings),
    ...(settings.eks === undefined ? {} : { kubernetes: eksClusterSwitch(settings.eks, process.env.AWS_REGION ?? "") }),
};

/** The part of Lambda's context object the handler reads. */
interface InvocationContext {
    getRemainingTimeInMillis(): number;
}

export async function handler(event: unknown, context?: InvocationContext): Promise<TriggerOutcome> {
    // When Lambda ends this invocation: a claim on the event is held until then, and no longer.
    const deadline = context === undefined ? undefined : new Date(Date.now() + context.getRemainingTimeInMillis());
    const eventId = (event as { id?: unknown } | null)?.id;
    try {
        const outcome = await handleTriggerEvent(event, settings, ports, () => new Date(), deadline);
        console.log(JSON.stringify({ eventId, ...outcome }));
        return outcome;
    } catch (error) {
        // Lambda retries the event, then keeps it in the dead-letter queue with this message; the log line says it the same way.
        console.error(JSON.stringify({ eventId, action: "unfinished", why: error instanceof Error ? error.message : String(error) }));
        throw error;
    }
}
