/**
 * Which database snapshots a stack has, and when a new one is due.
 *
 * Every time the pin changes, the database is snapshotted. The record of
 * those snapshots (the snapshot ledger) lives in the stack's own outputs,
 * like the quarantine ledger: each run reads the previous one and adds the
 * snapshot of this run's pin change if there is one. The program declares
 * only the snapshot of the current pin; when the pin changes again, that
 * one leaves the stack and stays in AWS (`retainOnDelete`). Declaring every
 * snapshot of the ledger instead would make Pulumi take a snapshot again,
 * with today's data under an old name, once a deleted one is refreshed out
 * of the state.
 */
import { createHash } from "node:crypto";
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
export function compactTimestamp(at: string): string {
    return at.replace(/\.\d+/, "").replace(/[^0-9]/g, "");
}

/** A version id or stack name as it may appear in an RDS identifier: lowercase letters, digits and single hyphens. */
function identifierKey(text: string): string {
    return derivedNameKey("sagemaker", text).replace(/-+/g, "-").replace(/^-|-$/g, "");
}

/**
 * The longest snapshot identifier RDS takes: CreateDBSnapshot's
 * DBSnapshotIdentifier is 1-255 characters, CreateDBClusterSnapshot's
 * DBClusterSnapshotIdentifier 1-63.
 */
export const SNAPSHOT_IDENTIFIER_MAX_LENGTH: Record<DatabaseSettings["kind"], number> = { instance: 255, cluster: 63 };

/**
 * `fraud-detector-prod-4-v2-to-v3`: the model, the stack, the snapshot's
 * place in the stack's ledger, and both versions. No clock: a preview and
 * its update name the same snapshot, and an update retried after a failure
 * (whose outputs, and so whose ledger, were never written) finds the
 * snapshot the failed one took instead of taking a new one after the new
 * version has already served. The stack keeps staging and prod of one model
 * apart in one account. Snapshot identifiers are letters, digits and single
 * hyphens, starting with a letter (the model name does). One longer than
 * `maxLength` (a cluster's 63 is easily passed by a long model, stack and
 * version ids) is cut and ends with a hash of the whole, which keeps it
 * unique and the same on every run; the snapshot's tags still name both
 * versions. Shorter ones are as they always were.
 */
export function snapshotIdentifier(model: string, stack: string, sequence: number, from: string | null, to: string, maxLength = 255): string {
    const fromPart = from === null ? "initial" : `v${identifierKey(from)}`;
    // A stack named by punctuation alone ("_") has no key: "stack" stands for it, so that no "--" appears.
    const whole = `${identifierKey(model)}-${identifierKey(stack) || "stack"}-${sequence}-${fromPart}-to-v${identifierKey(to)}`;
    if (whole.length <= maxLength) return whole;
    const hash = createHash("sha256").update(whole).digest("hex").slice(0, 8);
    return `${whole.slice(0, maxLength - hash.length - 1).replace(/-+$/, "")}-${hash}`;
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

/** What the last update left, as far as snapshots go. */
export interface PreviousDeploy {
    /** The pin it deployed; null when the stack was never deployed. */
    readonly pinned: string | null;
    /** The database the model used then (the stack's `database.servingIdentifier` output). */
    readonly servingDatabase?: string;
}

/**
 * The ledger after this run, and the record this run adds (if any). A run
 * whose pin is the one last deployed adds nothing: re-running a pin takes
 * no new snapshot. The snapshot is of the database that served until now:
 * after `--restore-database` that is the one the restore moves away from,
 * which holds the data written under the version rolled back from.
 */
export function nextSnapshotLedger(
    previous: readonly SnapshotRecord[],
    config: Pick<StackConfig, "model" | "pinned" | "database">,
    deployed: PreviousDeploy,
    stack: string,
    now: string,
): { readonly ledger: SnapshotRecord[]; readonly taken?: SnapshotRecord } {
    if (config.database === undefined || deployed.pinned === config.pinned) return { ledger: [...previous] };
    const taken: SnapshotRecord = {
        identifier: snapshotIdentifier(
            config.model,
            stack,
            previous.length + 1,
            deployed.pinned,
            config.pinned,
            SNAPSHOT_IDENTIFIER_MAX_LENGTH[config.database.kind],
        ),
        kind: config.database.kind,
        database: deployed.servingDatabase ?? servingDatabase(config.database),
        from: deployed.pinned,
        to: config.pinned,
        at: now,
    };
    return { ledger: [...previous, taken], taken };
}

/** The snapshot the program declares: the one taken when the current pin went live (earlier ones have left the stack, kept in AWS). */
export function currentSnapshot(ledger: readonly SnapshotRecord[], pinned: string): SnapshotRecord | undefined {
    const newest = ledger.at(-1);
    return newest?.to === pinned ? newest : undefined;
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
