/**
 * `mlops status` and `mlops history`: what serves now, and every update with
 * its pinned version, result and reason, from the stack's outputs and
 * `stack.history()`.
 */
import type { StackSession, UpdateRecord } from "../rollback/automation";
import { parseUpdateMessage } from "../rollback/decisions";
import { ledgerFromOutput, type QuarantineLedger } from "../rollback/ledger";

export interface StackStatus {
    readonly stack: string;
    readonly model?: string;
    readonly target?: string;
    readonly pinnedVersion?: string;
    readonly warmVersions: string[];
    /** SageMaker endpoint name, or namespace/Service. */
    readonly endpoint?: string;
    readonly quarantined: QuarantineLedger;
    readonly lastUpdate?: HistoryEntry;
}

export interface HistoryEntry {
    readonly time: string;
    readonly kind: string;
    readonly pinned?: string;
    readonly result: string;
    readonly message: string;
    /** For mlops deploys and rollbacks: from, to and why, read back from the message. */
    readonly change?: { readonly kind: string; readonly from: string; readonly to: string; readonly reason?: string };
}

export function historyEntry(record: UpdateRecord): HistoryEntry {
    const change = parseUpdateMessage(record.message);
    return {
        time: record.startTime.toISOString(),
        kind: change?.kind ?? record.kind,
        ...(record.pinned === undefined ? {} : { pinned: record.pinned }),
        result: record.result,
        message: record.message,
        ...(change === undefined ? {} : { change }),
    };
}

export function statusFrom(stack: string, outputs: Record<string, unknown>, history: UpdateRecord[]): StackStatus {
    const sagemaker = outputs.sagemaker as { endpointName?: string } | undefined;
    const kubernetes = outputs.kubernetes as { namespace?: string; serviceName?: string } | undefined;
    const endpoint =
        sagemaker?.endpointName !== undefined
            ? `SageMaker endpoint ${sagemaker.endpointName}`
            : kubernetes?.serviceName !== undefined
              ? `Service ${kubernetes.namespace ?? "default"}/${kubernetes.serviceName}`
              : undefined;
    const asString = (value: unknown) => (typeof value === "string" ? value : undefined);
    return {
        stack,
        model: asString(outputs.model),
        target: asString(outputs.target),
        pinnedVersion: asString(outputs.pinnedVersion),
        warmVersions: Array.isArray(outputs.warmVersions) ? outputs.warmVersions.filter((v): v is string => typeof v === "string") : [],
        endpoint,
        quarantined: ledgerFromOutput(outputs.quarantineLedger),
        ...(history.length === 0 ? {} : { lastUpdate: historyEntry(history[0]) }),
    };
}

export function renderStatus(status: StackStatus): string {
    if (status.pinnedVersion === undefined) return `Stack ${status.stack} has not been deployed yet (no outputs).`;
    const lines = [
        `Stack ${status.stack}: ${status.model ?? "?"} on ${status.target ?? "?"}, serving version ${status.pinnedVersion}`,
        `  warm versions: ${status.warmVersions.join(", ")}`,
        ...(status.endpoint === undefined ? [] : [`  endpoint:      ${status.endpoint}`]),
    ];
    const quarantined = Object.entries(status.quarantined);
    if (quarantined.length > 0) {
        lines.push(`  quarantined:   ${quarantined.map(([id, entry]) => `${id} (${entry.reason}, ${entry.at})`).join("; ")}`);
    }
    if (status.lastUpdate !== undefined) {
        const last = status.lastUpdate;
        lines.push(`  last update:   ${last.time} ${last.kind} ${last.result}${last.message ? `: ${last.message}` : ""}`);
    }
    return lines.join("\n");
}

export function renderHistory(entries: HistoryEntry[]): string {
    if (entries.length === 0) return "No updates yet.";
    const rows = entries.map((e) => [e.time, e.kind, e.pinned ?? "-", e.result, e.message]);
    const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i].length), ["time", "kind", "pinned", "result"][i].length));
    const line = (cells: string[]) => cells.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]) : cell)).join("  ");
    return [line(["time", "kind", "pinned", "result", "message"]), ...rows.map(line)].join("\n");
}

export async function loadStatus(session: StackSession): Promise<StackStatus> {
    const [outputs, history] = await Promise.all([session.outputs(), session.history()]);
    return statusFrom(session.name, outputs, history);
}
