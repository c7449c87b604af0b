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
import { compactTimestamp, servingDatabase, snapshotWhenLive, type SnapshotRecord } from "./snapshots";

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

/** A restored cluster's writer instance: the cluster's name and `-writer`. */
export const WRITER_SUFFIX = "-writer";

/**
 * `fraud-features-restore-202611271305`: the original identifier, cut to
 * fit, and the minute of the restore. A cluster's name leaves room for its
 * writer's suffix, so that the writer's name keeps the whole time stamp.
 */
export function restoredIdentifier(original: string, at: string, kind: DatabaseSettings["kind"]): string {
    const stamp = compactTimestamp(at).slice(0, 12);
    const room = 63 - RESTORE_SUFFIX_LENGTH - (kind === "cluster" ? WRITER_SUFFIX.length : 0);
    const base = original.slice(0, room).replace(/-+$/, "");
    return `${base}-restore-${stamp}`;
}

/** The writer instance of a restored cluster: a cluster restores without one and serves nothing until it has it. */
export function restoredWriterIdentifier(cluster: string): string {
    return `${cluster}${WRITER_SUFFIX}`;
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
        restoredDatabase: restoredIdentifier(settings.identifier, at, settings.kind),
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
    readonly engineVersion?: string;
    /** DB parameter group (instance) or DB cluster parameter group (cluster): without it RDS uses the engine's default. */
    readonly parameterGroupName?: string;
    readonly optionGroupName?: string;
    readonly port?: number;
    readonly storageType?: string;
    /** Provisioned IOPS of io1 / io2 storage (required with them). gp3 restores at its baseline. */
    readonly provisionedIops?: number;
    readonly iamAuthentication?: boolean;
    /** Aurora Serverless v2 capacity: a `db.serverless` writer needs it on the cluster. */
    readonly serverlessV2?: { readonly MinCapacity?: number; readonly MaxCapacity?: number };
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

/**
 * A snapshot RDS created this long after its version went live is not the
 * one taken then: most likely the program took it again (a `pulumi up`
 * after a deleted snapshot was refreshed out of the state), with later data.
 */
const SNAPSHOT_LATE_AFTER_MS = 6 * 3600 * 1000;

/** Refuse (exit 2) before anything changes when the snapshot is gone, is not the one of that moment, or the new name is taken. */
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
    const wentLive = new Date(plan.snapshot.at);
    if (snapshot.createdAt !== undefined && snapshot.createdAt.getTime() - wentLive.getTime() > SNAPSHOT_LATE_AFTER_MS) {
        throw new BadInputError(
            `--restore-database: snapshot ${plan.snapshot.identifier} was created ${snapshot.createdAt.toISOString()}, long after version ${plan.rolledBackFrom} went live (${plan.snapshot.at}), so it does not hold the data of that moment (it was probably taken again after being deleted); nothing was changed. Restore by hand to a point in time before ${plan.snapshot.at} from the automated backups.`,
        );
    }
    const names = [
        { kind: plan.kind, name: plan.restoredDatabase },
        ...(plan.kind === "cluster" ? [{ kind: "instance" as const, name: restoredWriterIdentifier(plan.restoredDatabase) }] : []),
    ];
    for (const { kind, name } of names) {
        if ((await rds.describeDatabase(kind, name)) !== undefined) {
            throw new BadInputError(`--restore-database: a DB ${kind} named ${name} already exists; wait a minute and run again (nothing was changed)`);
        }
    }
    return snapshot;
}

/** What the dry run and the prompt say: which snapshot, from when, and what the restore leaves out. */
export function describeRestore(plan: RestorePlan, snapshot: SnapshotState, now: Date, addressEnv: string | undefined): string {
    const takenAt = snapshot.createdAt ?? new Date(plan.snapshot.at);
    const minutes = Math.max(0, Math.round((now.getTime() - takenAt.getTime()) / 60_000));
    return [
        `Database: restores snapshot ${plan.snapshot.identifier} (taken ${takenAt.toISOString()}, when version ${plan.rolledBackFrom} went live) into a new DB ${plan.kind}, ${plan.restoredDatabase}.`,
        `Traffic stays on version ${plan.rolledBackFrom} until ${plan.restoredDatabase} is available (minutes for a small database, longer for a large one); to move traffic first, roll back without --restore-database.`,
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
            throw new Error(`the restore into ${plan.restoredDatabase} ended ${state.status}; it is kept for you to inspect (deletion protection on)`);
        }
        if (waited >= timeoutSeconds) {
            throw new Error(
                `${plan.restoredDatabase} is still ${state?.status ?? "not visible"} after ${timeoutSeconds} s; the restore goes on in RDS. Once it is available, add restoredInto: ${plan.restoredDatabase} to mlops:database and run the rollback again without --restore-database`,
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
