/**
 * The Lambda entry point (bundled by `AlarmRollbackTrigger` with esbuild).
 * Settings and clients are made once per container; each event is handled
 * by `handleTriggerEvent` (an alarm, or the reconcile build's end), and its
 * outcome logged as one JSON line.
 */
import { awsTriggerPorts } from "./awsTriggerPorts";
import { handleTriggerEvent, type TriggerOutcome } from "./handleAlarmEvent";
import { triggerSettingsFromEnv } from "./settings";

const settings = triggerSettingsFromEnv(process.env);
const ports = awsTriggerPorts(settings);

export async function handler(event: unknown): Promise<TriggerOutcome> {
    const outcome = await handleTriggerEvent(event, settings, ports);
    console.log(JSON.stringify({ eventId: (event as { id?: unknown } | null)?.id, ...outcome }));
    return outcome;
}
