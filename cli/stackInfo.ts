/**
 * `mlops status` and `mlops history`: what serves now, and every update with
 * its pinned version, result and reason, from the stack's outputs and
 * `stack.history()`.
 */
import { snapshotLedgerFromOutput, type SnapshotRecord } from "../database/snapshots";
import { endpointVariantsFromOutput, type EndpointVariantsRecord } from "../catalog/endpointVariants";
import type { PendingOperation, StackSession, UpdateRecord } from "../rollback/automation";
import { parseUpdateMessage } from "../rollback/decisions";
import { ledgerFromOutput, type QuarantineLedger } from "../rollback/ledger";
import { servingRecordOf, type ServingEntry } from "../rollback/servingRecord";
import type { ServiceState, TrafficSwitch } from "../rollback/kubernetesSwitch";
import { printable } from "./terminalText";

export interface StackStatus {
    readonly stack: string;
    readonly model?: string;
    readonly target?: string;
    readonly pinnedVersion?: string;
    /** The versions kept warm besides the pinned one, the one that served most recently last. */
    readonly warmVersions: string[];
    /** Set when the catalog's previous versions stand in for a serving record: why. */
    readonly warmStandIn?: string;
    /** The versions that served on the stack, oldest first (the record the warm set is read from). */
    readonly servingHistory: ServingEntry[];
    /** SageMaker endpoint name, or namespace/Service. */
    readonly endpoint?: string;
    readonly quarantined: QuarantineLedger;
    /** With `mlops:database`: the database the model uses, and the snapshots taken at pin changes, oldest first. */
    readonly database?: { readonly serving?: string; readonly snapshots: SnapshotRecord[] };
    readonly lastUpdate?: HistoryEntry;
    /** Operations an update that was cut short left pending; the next mlops deploy or rollback repairs them. */
    readonly interrupted?: PendingOperation[];
    /** Kubernetes: the Service as the cluster has it now, or why it could not be read. */
    readonly live?: ServiceState | { readonly error: string };
    /** SageMaker hot standby: the production variants of the config the endpoint runs, as the stack recorded them. */
    readonly endpointVariants?: EndpointVariantsRecord;
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

export function statusFrom(stack: string, outputs: Record<string, unknown>, history: UpdateRecord[], pending: PendingOperation[] = []): StackStatus {
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
        // Outputs of mlops-rollback before the serving record listed the pinned version among the warm ones.
        warmVersions: Array.isArray(outputs.warmVersions)
            ? outputs.warmVersions.filter((v): v is string => typeof v === "string" && v !== outputs.pinnedVersion)
            : [],
        ...(typeof outputs.warmStandIn === "string" ? { warmStandIn: outputs.warmStandIn } : {}),
        servingHistory: servingRecordOf(outputs),
        endpoint,
        quarantined: ledgerFromOutput(outputs.quarantineLedger),
        ...(outputs.databaseSnapshots === undefined
            ? {}
            : {
                  database: {
                      serving: asString((outputs.database as { servingIdentifier?: unknown } | undefined)?.servingIdentifier),
                      snapshots: snapshotLedgerFromOutput(outputs.databaseSnapshots),
                  },
              }),
        ...(history.length === 0 ? {} : { lastUpdate: historyEntry(history[0]) }),
        ...(pending.length === 0 ? {} : { interrupted: pending }),
        ...((record) => (record === undefined ? {} : { endpointVariants: record }))(
            endpointVariantsFromOutput((outputs.sagemaker as { endpointVariants?: unknown } | undefined)?.endpointVariants),
        ),
    };
}

/**
 * Hot standby, one line: each variant with its version and role, e.g.
 * `primary: 3 (serving), standby: 2 (hot standby, weight 0)`; after a
 * rollback within it, the version left is named as kept running at weight 0
 * until the next deploy.
 */
function variantsLine(record: EndpointVariantsRecord, pinned: string | undefined): string {
    const order = record.variants.map((variant) => variant.version);
    const described = record.variants.map((variant) => {
        const role =
            variant.version === pinned
                ? "serving"
                : pinned !== undefined && order.includes(pinned) && record.createdFor !== pinned && variant.version === record.createdFor
                  ? "left by a rollback, running at weight 0 until the next deploy"
                  : "hot standby, weight 0";
        return `${variant.variantName}: ${variant.version} (${role}, ${variant.initialInstanceCount} × ${record.instanceType} as created)`;
    });
    return `  variants:      ${described.join("; ")}`;
}

/**
 * `mlops status` as text, one fact a line. Every line is made `printable`:
 * the stack's outputs and history carry text from outside (update messages,
 * `--reason`, ledger reasons), where a newline would forge a line and an
 * escape sequence drive the terminal.
 */
export function renderStatus(status: StackStatus): string {
    if (status.pinnedVersion === undefined) return printable(`Stack ${status.stack} has not been deployed yet (no outputs).`);
    const lines = [
        `Stack ${status.stack}: ${status.model ?? "?"} on ${status.target ?? "?"}, serving version ${servingVersion(status)}`,
        ...liveLines(status),
        `  warm versions: ${status.warmVersions.join(", ") || "none"}${status.warmStandIn === undefined ? "" : ` (${status.warmStandIn})`}`,
        `  served here:   ${status.servingHistory.map((entry) => (entry.since === undefined ? entry.version : `${entry.version} (from ${entry.since})`)).join(", ")}`,
        ...(status.endpoint === undefined ? [] : [`  endpoint:      ${status.endpoint}`]),
        ...(status.endpointVariants === undefined ? [] : [variantsLine(status.endpointVariants, status.pinnedVersion)]),
    ];
    const quarantined = Object.entries(status.quarantined);
    if (quarantined.length > 0) {
        lines.push(`  quarantined:   ${quarantined.map(([id, entry]) => `${id} (${entry.reason}, ${entry.at})`).join("; ")}`);
    }
    if (status.database !== undefined) {
        const latest = status.database.snapshots.at(-1);
        const snapshot =
            latest === undefined
                ? "no snapshot yet"
                : `last snapshot ${latest.identifier} (${latest.from ?? "none"} -> ${latest.to}, ${latest.at}), ${status.database.snapshots.length} in all`;
        lines.push(`  database:      ${status.database.serving ?? "?"}; ${snapshot}`);
    }
    if (status.lastUpdate !== undefined) {
        const last = status.lastUpdate;
        lines.push(`  last update:   ${last.time} ${last.kind} ${last.result}${last.message ? `: ${last.message}` : ""}`);
    }
    if (status.interrupted !== undefined) {
        const listed = status.interrupted.map((operation) => `${operation.operation} ${operation.name}`).join(", ");
        lines.push(`  interrupted:   an update was cut short with ${listed} unfinished; the next mlops deploy or rollback repairs that first`);
    }
    return lines.map(printable).join("\n");
}

/** The version that takes traffic: the live Service's when read, else the stack's record. */
function servingVersion(status: StackStatus): string {
    const live = status.live;
    if (live === undefined || "error" in live || live.selected === undefined || live.selected === status.pinnedVersion) return status.pinnedVersion ?? "?";
    return `${live.selected} (the stack records ${status.pinnedVersion ?? "nothing"})`;
}

/** `mlops history` as a table, one update a row; every cell made `printable` (a message with a newline must not forge a row), widths counted after. */
export function renderHistory(entries: HistoryEntry[]): string {
    if (entries.length === 0) return "No updates yet.";
    const rows = entries.map((e) => [e.time, e.kind, e.pinned ?? "-", e.result, e.message].map(printable));
    const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i].length), ["time", "kind", "pinned", "result"][i].length));
    const line = (cells: string[]) => cells.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]) : cell)).join("  ");
    return [line(["time", "kind", "pinned", "result", "message"]), ...rows.map(line)].join("\n");
}

/**
 * The stack's record, and on Kubernetes (with `cluster`) the Service as it
 * is now: an instant switch whose update never ran shows up only there.
 */
export async function loadStatus(session: StackSession, cluster?: TrafficSwitch): Promise<StackStatus> {
    const [outputs, history, pending] = await Promise.all([session.outputs(), session.history(1), session.pendingOperations()]);
    const status = statusFrom(session.name, outputs, history, pending);
    const kubernetes = outputs.kubernetes as { namespace?: unknown; serviceName?: unknown } | undefined;
    if (cluster === undefined || typeof kubernetes?.namespace !== "string" || typeof kubernetes.serviceName !== "string") return status;
    try {
        return { ...status, live: await cluster.serviceState(kubernetes.namespace, kubernetes.serviceName) };
    } catch (error) {
        return { ...status, live: { error: error instanceof Error ? error.message : String(error) } };
    }
}

/** The lines that say how the live Service differs from the stack's record (none when it does not). */
function liveLines(status: StackStatus): string[] {
    const live = status.live;
    if (live === undefined) return [];
    if ("error" in live) return [`  traffic:       could not read the Service (${live.error}); the versions above are the stack's record`];
    if (live.selected !== status.pinnedVersion) {
        return [
            live.heldBySwitch
                ? `  traffic:       the Service selects version ${live.selected ?? "(none)"}: an instant rollback switched it and its update did not finish; mlops rollback --stack ${status.stack} finishes it`
                : `  traffic:       the Service selects version ${live.selected ?? "(none)"}, which the stack did not set: it was changed outside the stack`,
        ];
    }
    return live.heldBySwitch
        ? [
              `  traffic:       the switch to ${live.selected} is recorded, but mlops-rollback still holds the Service's selector; the next mlops deploy or rollback gives it back`,
          ]
        : [];
}
