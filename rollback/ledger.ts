/**
 * A rollback sticks: the quarantine ledger.
 *
 * Stack config can be stale (an alarm-triggered rollback runs elsewhere and
 * a teammate's copy of the stack file never saw it), so the record of which
 * versions were rolled back lives in the stack's own outputs. Every run reads
 * the previous ledger, refuses a config that pins a version in it (unless
 * `mlops:rollback.allowRedeploy` releases it), keeps those versions out of
 * the warm set, and writes the ledger back, with anything newly quarantined.
 */
import type { StackConfig } from "../config/schema";

export interface QuarantineEntry {
    /** When the version was quarantined (ISO 8601). */
    readonly at: string;
    readonly reason: string;
    /** The version the rollback went to, when known. */
    readonly rolledBackTo?: string;
}

/** Quarantined version id → why. An output of the stack. */
export type QuarantineLedger = Readonly<Record<string, QuarantineEntry>>;

/**
 * What `mlops rollback` tells the program about the rollback it runs, in
 * MLOPS_ROLLBACK_EVENT (JSON), which `serveModelFromStackConfig` reads; it
 * counts only when `to` is the pin the program runs with.
 */
export interface RollbackEvent {
    readonly from: string;
    readonly to: string;
    readonly reason: string;
    readonly at: string;
    /**
     * The alarm trigger already moved the SageMaker endpoint to `to`: this
     * run reconciles the stack and keeps the deployment policy SageMaker
     * ran the restore with until the next deploy (see `mlops rollback --after-fast-path`).
     */
    readonly afterFastPath?: boolean;
}

export const ROLLBACK_EVENT_ENV = "MLOPS_ROLLBACK_EVENT";

/** The ledger's versions that the config has not released. */
function heldVersions(ledger: QuarantineLedger, config: StackConfig): string[] {
    return Object.keys(ledger).filter((id) => !config.rollback.allowRedeploy.includes(id));
}

/**
 * Why this run must not go ahead, or undefined. A config pinning a version
 * a rollback left is most likely a stale copy: running it would undo the
 * rollback.
 */
export function stickyRefusal(previous: QuarantineLedger, config: StackConfig): string | undefined {
    if (!heldVersions(previous, config).includes(config.pinned)) return undefined;
    const entry = previous[config.pinned];
    const to = entry.rolledBackTo === undefined ? "" : ` to ${entry.rolledBackTo}`;
    return (
        `mlops:pinned is ${config.pinned}, but version ${config.pinned} was rolled back${to} at ${entry.at} (${entry.reason}). ` +
        `This config is probably older than that rollback: update it (pin ${entry.rolledBackTo ?? "a later version"}), ` +
        `or, if ${config.pinned} is safe again, add it to mlops:rollback.allowRedeploy (mlops deploy --version ${config.pinned} --force does that).`
    );
}

/** The config with every held ledger version quarantined too, so none of them is kept warm. */
export function withLedgerQuarantine(config: StackConfig, previous: QuarantineLedger): StackConfig {
    const known = new Set(config.versions.map((v) => v.version));
    const held = heldVersions(previous, config).filter((id) => known.has(id) && id !== config.pinned);
    return { ...config, quarantined: [...new Set([...config.quarantined, ...held])] };
}

/** The ledger this run writes: the previous one, less released versions, plus newly quarantined ones. */
export function nextLedger(previous: QuarantineLedger, config: StackConfig, event: RollbackEvent | undefined, now: string): QuarantineLedger {
    const next: Record<string, QuarantineEntry> = {};
    for (const id of heldVersions(previous, config)) next[id] = previous[id];
    for (const id of config.quarantined) {
        if (next[id] === undefined) next[id] = { at: now, reason: "listed in mlops:quarantined" };
    }
    // A rollback is always recorded, even of a version an earlier --force released.
    if (event !== undefined) next[event.from] = { at: event.at, reason: event.reason, rolledBackTo: event.to };
    return next;
}

/** Read the event `mlops rollback` passes, ignoring anything malformed (a plain `pulumi up` has none). */
export function rollbackEventFrom(value: string | undefined): RollbackEvent | undefined {
    if (value === undefined || value === "") return undefined;
    try {
        const event = JSON.parse(value) as Partial<RollbackEvent>;
        const fields = [event.from, event.to, event.reason, event.at];
        if (!fields.every((field) => typeof field === "string")) return undefined;
        const { from, to, reason, at } = event as RollbackEvent;
        return { from, to, reason, at, ...(event.afterFastPath === true ? { afterFastPath: true } : {}) };
    } catch {
        return undefined;
    }
}

/** A ledger read back from stack outputs, validated field by field (outputs are untyped). */
export function ledgerFromOutput(value: unknown): QuarantineLedger {
    if (typeof value !== "object" || value === null) return {};
    const ledger: Record<string, QuarantineEntry> = {};
    for (const [id, entry] of Object.entries(value as Record<string, unknown>)) {
        const candidate = entry as Partial<QuarantineEntry> | null;
        if (typeof candidate?.at === "string" && typeof candidate.reason === "string") {
            ledger[id] = {
                at: candidate.at,
                reason: candidate.reason,
                ...(typeof candidate.rolledBackTo === "string" ? { rolledBackTo: candidate.rolledBackTo } : {}),
            };
        }
    }
    return ledger;
}
