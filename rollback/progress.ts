/**
 * One line per resource operation as the engine reports it, with the time
 * since the update started: the operator watching a rollback sees the
 * pointer move, not a silent terminal.
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";

const VERB: Record<string, string> = {
    create: "creating",
    update: "updating",
    replace: "replacing",
    "create-replacement": "creating replacement",
    "delete-replaced": "deleting replaced",
    delete: "deleting",
    read: "reading",
    refresh: "refreshing",
};

/** The short name in a URN: `urn:pulumi:s::p::a$b:c/d:E::name` → `name`. */
export function resourceName(urn: string): string {
    return urn.split("::").pop() ?? urn;
}

function elapsed(startedAt: number, now: number): string {
    return `${((now - startedAt) / 1000).toFixed(1).padStart(6)}s`;
}

/** The stack itself and provider instances are bookkeeping, not something the operator waits for. */
const isBookkeeping = (type: string): boolean => type === "pulumi:pulumi:Stack" || type.startsWith("pulumi:providers:");

/**
 * A progress line for an engine event, or undefined for events nobody needs
 * to see. In a refresh (`refreshing`), the engine reports what the refresh
 * did to the state as update or delete: said as such, since it touches
 * nothing in the cloud.
 */
export function progressLine(event: EngineEvent, startedAt: number, now: number, refreshing = false): string | undefined {
    const pre = event.resourcePreEvent?.metadata;
    if (pre !== undefined && pre.op !== "same" && VERB[pre.op] !== undefined && !isBookkeeping(pre.type)) {
        return `${elapsed(startedAt, now)}  ${VERB[pre.op]} ${pre.type} ${resourceName(pre.urn)}`;
    }
    const done = event.resOutputsEvent?.metadata;
    if (done !== undefined && done.op !== "same" && VERB[done.op] !== undefined && !isBookkeeping(done.type)) {
        if (refreshing) {
            const what = done.op === "delete" ? "gone from the cloud, dropped from the state" : "read back into the state";
            return `${elapsed(startedAt, now)}  done refresh ${done.type} ${resourceName(done.urn)}: ${what}`;
        }
        return `${elapsed(startedAt, now)}  done ${done.op} ${done.type} ${resourceName(done.urn)}`;
    }
    const failed = event.resOpFailedEvent?.metadata;
    if (failed !== undefined) return `${elapsed(startedAt, now)}  FAILED ${failed.op} ${failed.type} ${resourceName(failed.urn)}`;
    const diagnostic = event.diagnosticEvent;
    if (diagnostic !== undefined && diagnostic.severity === "error") return `${elapsed(startedAt, now)}  error: ${diagnostic.message.trim()}`;
    return undefined;
}

/** `2 updated, 1 created, 5 unchanged`. */
export function changeSummary(changes: Record<string, number>): string {
    const words: Record<string, string> = { create: "created", update: "updated", replace: "replaced", delete: "deleted", same: "unchanged" };
    const parts = Object.entries(changes)
        .filter(([, count]) => count > 0)
        .map(([op, count]) => `${count} ${words[op] ?? op}`);
    return parts.length === 0 ? "no changes" : parts.join(", ");
}
