/**
 * Which database snapshots a stack has, and when a new one is due.
 *
 * Every time the pin changes, the database is snapshotted. The record of
 * those snapshots (the snapshot ledger) lives in the stack's own outputs,
 * like the quarantine ledger: each run reads the previous one, adds the
 * snapshot of this run's pin change if there is one, and declares every
 * snapshot in it, so that none leaves the program by accident. A snapshot
 * that does leave it (the ledger edited, `mlops:database` removed) is kept
 * in AWS all the same (`retainOnDelete`).
 */
import { derivedNameKey } from "../catalog/names";
import type { DatabaseSettings, StackConfig } from "../config/schema";

export interface SnapshotRecord {
    /** DBSnapshotIdentifier or DBClusterSnapshotIdentifier. */
    readonly identifier: string;
    readonly kind: DatabaseSettings["kind"];
    /** The database snapshotted (the serving one at the time). */
    readonly database: string;
    /** The version that served before the change; null on the stack's first deploy. */
    readonly from: string | null;
    /** The version the change pinned. */
    readonly to: string;
    /** When the run that took it started (ISO 8601). */
    readonly at: string;
}

/** The database the model uses: the restored one after `mlops rollback --restore-database`, else `identifier`. */
export function servingDatabase(settings: DatabaseSettings): string {
    return settings.restoredInto ?? settings.identifier;
}

/** `2026-11-27T12:34:56.789Z` → `20261127123456`. */
function compactTimestamp(at: string): string {
    return at.replace(/\.\d+/, "").replace(/[^0-9]/g, "");
}

/** A version id as it may appear in an RDS identifier: letters, digits and single hyphens. */
function identifierKey(versionId: string): string {
    return derivedNameKey("sagemaker", versionId).replace(/-+/g, "-").replace(/^-|-$/g, "");
}

/**
 * `fraud-detector-v2-to-v3-20261127123456`: the model, both versions and
 * the time. Snapshot identifiers are 1-255 letters, digits and single
 * hyphens, starting with a letter (the model name does) and unique per
 * account and region, which the time makes them.
 */
export function snapshotIdentifier(model: string, from: string | null, to: string, at: string): string {
    const fromPart = from === null ? "initial" : `v${identifierKey(from)}`;
    return `${model}-${fromPart}-to-v${identifierKey(to)}-${compactTimestamp(at)}`;
}

/** Tags on a snapshot: what it is for, readable in the console without this stack. */
export function snapshotTags(record: SnapshotRecord, model: string, stack: string): Record<string, string> {
    return {
        "mlops:model": model,
        "mlops:stack": stack,
        "mlops:from-version": record.from ?? "none",
        "mlops:to-version": record.to,
        "mlops:managed-by": "mlops-rollback",
    };
}

/**
 * The ledger after this run, and the record this run adds (if any). A run
 * whose pin is the one last deployed adds nothing: re-running a pin takes
 * no new snapshot. `deployedPin` is null when the stack was never deployed.
 */
export function nextSnapshotLedger(
    previous: readonly SnapshotRecord[],
    config: Pick<StackConfig, "model" | "pinned" | "database">,
    deployedPin: string | null,
    now: string,
): { readonly ledger: SnapshotRecord[]; readonly taken?: SnapshotRecord } {
    if (config.database === undefined) return { ledger: [...previous] };
    if (deployedPin === config.pinned) return { ledger: [...previous] };
    const taken: SnapshotRecord = {
        identifier: snapshotIdentifier(config.model, deployedPin, config.pinned, now),
        kind: config.database.kind,
        database: servingDatabase(config.database),
        from: deployedPin,
        to: config.pinned,
        at: now,
    };
    return { ledger: [...previous.filter((record) => record.identifier !== taken.identifier), taken], taken };
}

/**
 * Whether traffic waits for the snapshot. Moving forward, yes: the new
 * version may change the data, so the snapshot comes first. Rolling back,
 * no: the alarm is firing and the data written so far stays in the database
 * anyway, so the snapshot is taken alongside the switch, not before it.
 */
export function snapshotHoldsSwitch(record: SnapshotRecord, versions: readonly { readonly version: string }[]): boolean {
    if (record.from === null) return true;
    const order = versions.map((v) => v.version);
    return order.indexOf(record.to) > order.indexOf(record.from);
}

/** The snapshot taken when `version` went live (the newest, if it went live more than once). */
export function snapshotWhenLive(ledger: readonly SnapshotRecord[], version: string): SnapshotRecord | undefined {
    return [...ledger].reverse().find((record) => record.to === version);
}

/** A ledger read back from stack outputs, validated record by record (outputs are untyped). */
export function snapshotLedgerFromOutput(value: unknown): SnapshotRecord[] {
    if (!Array.isArray(value)) return [];
    const text = (field: unknown): field is string => typeof field === "string" && field !== "";
    return value.flatMap((entry): SnapshotRecord[] => {
        const record = entry as Partial<SnapshotRecord> | null;
        if (record === null || typeof record !== "object") return [];
        const { identifier, kind, database, from, to, at } = record;
        if (!text(identifier) || !text(database) || !text(to) || !text(at)) return [];
        if (kind !== "instance" && kind !== "cluster") return [];
        if (from !== null && !text(from)) return [];
        return [{ identifier, kind, database, from, to, at }];
    });
}
