/**
 * `mlops rollback --restore-database`: restore the snapshot taken when the
 * version rolled back from went live into a new database, and never touch
 * the one it replaces.
 *
 * A restore is explicit, never implied by a pin change, and it never sets
 * `snapshotIdentifier` on an existing database (which replaces it, and has
 * lost users their data). The plan is decided offline from the stack's
 * snapshot ledger; the RDS calls sit behind `RdsPorts` so that tests run
 * them against moto.
 */
import { BadInputError } from "../config/badInput";
import type { DatabaseSettings } from "../config/schema";
import { servingDatabase, snapshotWhenLive, type SnapshotRecord } from "./snapshots";

export interface RestorePlan {
    readonly kind: DatabaseSettings["kind"];
    /** The snapshot restored: taken when `rolledBackFrom` went live. */
    readonly snapshot: SnapshotRecord;
    /** The database the model uses now; kept as it is. */
    readonly replacedDatabase: string;
    /** The new database the snapshot is restored into. */
    readonly restoredDatabase: string;
    readonly rolledBackFrom: string;
}

/** Restored identifiers keep RDS's limit of 63 characters: `-restore-` and a 12-digit minute stamp take 21. */
const RESTORE_SUFFIX_LENGTH = 21;

/** `fraud-features-restore-202611271305`: the original identifier, cut to fit, and the minute of the restore. */
export function restoredIdentifier(original: string, at: string): string {
    const stamp = at.replace(/[^0-9]/g, "").slice(0, 12);
    const base = original.slice(0, 63 - RESTORE_SUFFIX_LENGTH).replace(/-+$/, "");
    return `${base}-restore-${stamp}`;
}

/**
 * What `--restore-database` would do, or a refusal (exit 2, nothing changed)
 * naming the version when the stack has no snapshot from when it went live.
 */
export function planRestore(settings: DatabaseSettings | undefined, ledger: readonly SnapshotRecord[], rolledBackFrom: string, at: string): RestorePlan {
    if (settings === undefined) {
        throw new BadInputError("--restore-database: the stack has no mlops:database section, so there is no database to restore; run without it");
    }
    const snapshot = snapshotWhenLive(ledger, rolledBackFrom);
    if (snapshot === undefined) {
        const known = [...new Set(ledger.map((record) => record.to))];
        throw new BadInputError(
            `--restore-database: the stack has no snapshot from when version ${rolledBackFrom} went live ` +
                `(${known.length === 0 ? "it has no snapshots yet" : `it has snapshots for version ${known.join(", ")}`}); ` +
                "roll back without --restore-database, and restore by hand from an automated backup if the data needs it",
        );
    }
    if (snapshot.kind !== settings.kind) {
        throw new BadInputError(
            `--restore-database: snapshot ${snapshot.identifier} is of a DB ${snapshot.kind}, but mlops:database.kind is now ${settings.kind}; restore it by hand`,
        );
    }
    return {
        kind: settings.kind,
        snapshot,
        replacedDatabase: servingDatabase(settings),
        // Named after the original, not after an earlier restore: a second
        // restore does not grow the name.
        restoredDatabase: restoredIdentifier(settings.identifier, at),
        rolledBackFrom,
    };
}

export interface SnapshotState {
    readonly status: string;
    /** When RDS took it; undefined while it is being created. */
    readonly createdAt?: Date;
}

/** The settings a restore copies from the database it replaces, so that the new one sits where the old one does. */
export interface DatabasePlacement {
    readonly instanceClass?: string;
    readonly subnetGroupName?: string;
    readonly securityGroupIds: string[];
    readonly multiAz?: boolean;
    readonly engine?: string;
    readonly deletionProtection: boolean;
}

export interface DatabaseState {
    readonly status: string;
    readonly address?: string;
}

/** The RDS calls a restore makes; `database/rdsPorts.ts` makes them with the AWS SDK. */
export interface RdsPorts {
    /** undefined when there is no such snapshot. */
    describeSnapshot(kind: RestorePlan["kind"], identifier: string): Promise<SnapshotState | undefined>;
    /** undefined when there is no such database. */
    describeDatabase(kind: RestorePlan["kind"], identifier: string): Promise<DatabaseState | undefined>;
    placementOf(kind: RestorePlan["kind"], identifier: string): Promise<DatabasePlacement>;
    /** Start restoring `snapshot` into `identifier` (for a cluster, with a writer instance). */
    restore(plan: RestorePlan, placement: DatabasePlacement, tags: Record<string, string>): Promise<void>;
}

/** Refuse (exit 2) before anything changes when the snapshot is gone or the new name is taken. */
export async function checkRestorable(plan: RestorePlan, rds: RdsPorts): Promise<SnapshotState> {
    const snapshot = await rds.describeSnapshot(plan.kind, plan.snapshot.identifier);
    if (snapshot === undefined) {
        throw new BadInputError(
            `--restore-database: snapshot ${plan.snapshot.identifier} (taken when version ${plan.rolledBackFrom} went live) is not in RDS any more; nothing was changed`,
        );
    }
    if (snapshot.status !== "available") {
        throw new BadInputError(
            `--restore-database: snapshot ${plan.snapshot.identifier} is ${snapshot.status}, not available; wait for it and run again (nothing was changed)`,
        );
    }
    if ((await rds.describeDatabase(plan.kind, plan.restoredDatabase)) !== undefined) {
        throw new BadInputError(
            `--restore-database: a DB ${plan.kind} named ${plan.restoredDatabase} already exists; wait a minute and run again (nothing was changed)`,
        );
    }
    return snapshot;
}

/** What the dry run and the prompt say: which snapshot, from when, and what the restore leaves out. */
export function describeRestore(plan: RestorePlan, snapshot: SnapshotState, now: Date, addressEnv: string | undefined): string {
    const takenAt = snapshot.createdAt ?? new Date(plan.snapshot.at);
    const minutes = Math.max(0, Math.round((now.getTime() - takenAt.getTime()) / 60_000));
    return [
        `Database: restores snapshot ${plan.snapshot.identifier} (taken ${takenAt.toISOString()}, when version ${plan.rolledBackFrom} went live) into a new DB ${plan.kind}, ${plan.restoredDatabase}.`,
        `Data written to ${plan.replacedDatabase} since then (the last ${minutes} min) will not be in ${plan.restoredDatabase}; it stays in ${plan.replacedDatabase}, which is kept as it is, with its deletion protection, until you remove it.`,
        addressEnv === undefined
            ? `mlops:database.addressEnv is not set, so the model is not told: point it at ${plan.restoredDatabase} yourself.`
            : `The model's ${addressEnv} will point at ${plan.restoredDatabase} (on SageMaker that means new Models and endpoint configs: a new fleet, not a warm switch).`,
    ].join("\n");
}

/** Tags on the restored database: where it came from. */
export function restoreTags(plan: RestorePlan, model: string, stack: string): Record<string, string> {
    return {
        "mlops:model": model,
        "mlops:stack": stack,
        "mlops:restored-from-snapshot": plan.snapshot.identifier,
        "mlops:replaces-database": plan.replacedDatabase,
        "mlops:rolled-back-from-version": plan.rolledBackFrom,
        "mlops:managed-by": "mlops-rollback",
    };
}

export interface RestoreWaitOptions {
    readonly sleep?: (milliseconds: number) => Promise<void>;
    readonly onWait?: (status: string, waitedSeconds: number) => void;
    /** @default 30 s */
    readonly pollSeconds?: number;
    /** A restore of a large database takes long; past this, mlops stops waiting (the restore goes on). @default 7200 */
    readonly timeoutSeconds?: number;
}

/** Restore and wait until the new database is available; returns its address. */
export async function runRestore(plan: RestorePlan, rds: RdsPorts, tags: Record<string, string>, options: RestoreWaitOptions = {}): Promise<DatabaseState> {
    const placement = await rds.placementOf(plan.kind, plan.replacedDatabase);
    await rds.restore(plan, placement, tags);
    const sleep = options.sleep ?? ((milliseconds: number) => new Promise<void>((resolve) => setTimeout(resolve, milliseconds)));
    const pollSeconds = options.pollSeconds ?? 30;
    const timeoutSeconds = options.timeoutSeconds ?? 7200;
    for (let waited = 0; ; waited += pollSeconds) {
        const state = await rds.describeDatabase(plan.kind, plan.restoredDatabase);
        if (state?.status === "available") return state;
        if (state !== undefined && RESTORE_FAILED_STATUSES.has(state.status)) {
            throw new Error(`the restore into ${plan.restoredDatabase} ended ${state.status}; ${plan.replacedDatabase} is untouched`);
        }
        if (waited >= timeoutSeconds) {
            throw new Error(
                `${plan.restoredDatabase} is still ${state?.status ?? "not visible"} after ${timeoutSeconds} s; the restore goes on in RDS. Once it is available, run the rollback again without --restore-database after setting mlops:database.restoredInto: ${plan.restoredDatabase}`,
            );
        }
        options.onWait?.(state?.status ?? "not visible yet", waited);
        await sleep(pollSeconds * 1000);
    }
}

const RESTORE_FAILED_STATUSES = new Set([
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "inaccessible-encryption-credentials",
]);
