/**
 * The database a model version depends on, snapshotted at every pin change:
 * an RDS DB instance or an Aurora cluster, managed elsewhere (referenced by
 * identifier) or created here with defaults that keep its data safe.
 *
 * The snapshot is an `aws.rds.Snapshot` / `aws.rds.ClusterSnapshot`: the
 * one taken when the current pin went live, declared until the pin changes
 * again, and retained on delete, so that it stays in AWS when it leaves the
 * stack. A snapshot is the one copy of the data as it was before a version
 * went live: neither a rollback nor an edit of the program may remove it.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { componentArgsMessage, parseDatabaseArgs, type DatabaseSettingsInput, type ManagedDatabaseSettings } from "../config/schema";
import { compactTimestamp, servingDatabase, snapshotTags, type SnapshotRecord } from "../database/snapshots";

export interface DatabaseSnapshotsArgs {
    /** The model's name (`mlops:model`), for tags. */
    readonly model: string;
    /** The stack's name, for tags. */
    readonly stack: string;
    /** `mlops:database`: `kind` and `identifier` (required), the settings of a database created here, the restored database. */
    readonly settings: DatabaseSettingsInput;
    /** The snapshot taken when the current pin went live (see `currentSnapshot`). @default none declared */
    readonly snapshot?: SnapshotRecord;
    /** Whether this run takes `snapshot` (the pin changed) rather than finding it taken. @default false */
    readonly takenNow?: boolean;
    /** What the snapshot waits for: a rollback passes its traffic switch, so a failed snapshot never holds traffic on the bad version. @default nothing: it starts at once */
    readonly takenAfter?: pulumi.Input<pulumi.Resource>;
    /** The final snapshot's time stamp of a database created here, fixed at creation so a database re-created under the same identifier gets its own. */
    readonly createdAt: string;
    /** Look up the serving database's address, for the model's environment (`mlops:database.addressEnv`). @default false */
    readonly needsAddress?: boolean;
    /** Extra tags on every child. @default {} */
    readonly tags?: Record<string, string>;
}

export class DatabaseSnapshots extends pulumi.ComponentResource {
    /** The snapshot this run takes, for the traffic switch to wait on; undefined when the pin did not change. */
    public readonly snapshotTakenNow?: pulumi.Resource;
    /** The identifier of the database the model uses. */
    public readonly servingIdentifier: pulumi.Output<string>;
    /** The serving database's host name; set when `needsAddress` is. */
    public readonly servingAddress?: pulumi.Output<string>;

    constructor(name: string, args: DatabaseSnapshotsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:aws:DatabaseSnapshots", name, {}, opts);
        // Defaults and checks of the stack config's own schema: what `pulumi up` refuses, the component refuses too.
        const parsed = parseDatabaseArgs(args);
        if (!parsed.success) throw new pulumi.ResourceError(componentArgsMessage("DatabaseSnapshots", name, parsed.problems), this);
        const { settings } = parsed.data;
        const tags = { ...args.tags, "mlops:model": args.model, "mlops:managed-by": "mlops-rollback" };

        // The managed database's identifier as an output, so that its
        // snapshots wait for it to exist (on the stack's first deploy).
        const managed =
            settings.manage === undefined
                ? undefined
                : settings.kind === "instance"
                  ? this.declareInstance(name, settings.identifier, settings.manage, args.createdAt, tags)
                  : this.declareCluster(name, settings.identifier, settings.manage, args.createdAt, tags);
        const databaseInput = (database: string): pulumi.Input<string> =>
            managed !== undefined && database === settings.identifier ? managed.identifier : database;

        const record = args.snapshot;
        if (record !== undefined) {
            const snapshotArgs = { tags: { ...tags, ...snapshotTags(record, args.model, args.stack) } };
            // retainOnDelete: kept in AWS when the pin changes again (and the
            // snapshot leaves the stack), and when a changed input would replace it.
            const options: pulumi.CustomResourceOptions = {
                parent: this,
                retainOnDelete: true,
                dependsOn: args.takenAfter,
                // A large database takes long to snapshot; the provider's default is 20 minutes.
                customTimeouts: { create: SNAPSHOT_CREATE_TIMEOUT },
            };
            const snapshot =
                record.kind === "instance"
                    ? new aws.rds.Snapshot(
                          snapshotLogicalName(name, record),
                          { dbInstanceIdentifier: databaseInput(record.database), dbSnapshotIdentifier: record.identifier, ...snapshotArgs },
                          options,
                      )
                    : new aws.rds.ClusterSnapshot(
                          snapshotLogicalName(name, record),
                          { dbClusterIdentifier: databaseInput(record.database), dbClusterSnapshotIdentifier: record.identifier, ...snapshotArgs },
                          options,
                      );
            if (args.takenNow === true) this.snapshotTakenNow = snapshot;
        }

        const serving = servingDatabase(settings);
        if (args.needsAddress === true) {
            // A database created here has its address as an output; any other
            // (managed elsewhere, or restored by mlops) is looked up by identifier.
            this.servingAddress =
                managed !== undefined && serving === settings.identifier
                    ? managed.address
                    : settings.kind === "instance"
                      ? aws.rds.getInstanceOutput({ dbInstanceIdentifier: serving }, { parent: this }).address
                      : aws.rds.getClusterOutput({ clusterIdentifier: serving }, { parent: this }).endpoint;
        }
        this.servingIdentifier = pulumi.output(databaseInput(serving));
        this.registerOutputs({ servingIdentifier: this.servingIdentifier });
    }

    private declareInstance(name: string, identifier: string, manage: ManagedDatabaseSettings, createdAt: string, tags: Record<string, string>) {
        const instance = new aws.rds.Instance(`${name}-instance`, managedInstanceArgs(identifier, manage, createdAt, tags), {
            parent: this,
            ...MANAGED_DATABASE_OPTIONS,
        });
        return { identifier: instance.identifier, address: instance.address };
    }

    private declareCluster(name: string, identifier: string, manage: ManagedDatabaseSettings, createdAt: string, tags: Record<string, string>) {
        const { engine } = manage;
        // The schema allows only Aurora engines for a cluster; this keeps the type honest.
        if (engine !== "aurora-postgresql" && engine !== "aurora-mysql") throw new pulumi.ResourceError(`a cluster runs an Aurora engine, not ${engine}`, this);
        const cluster = new aws.rds.Cluster(`${name}-cluster`, managedClusterArgs(identifier, manage, createdAt, tags), {
            parent: this,
            ...MANAGED_DATABASE_OPTIONS,
        });
        new aws.rds.ClusterInstance(
            `${name}-writer`,
            {
                clusterIdentifier: cluster.clusterIdentifier,
                identifier: `${identifier}-writer`,
                engine,
                engineVersion: manage.engineVersion,
                instanceClass: manage.instanceClass,
                publiclyAccessible: false,
                tags,
            },
            { parent: this, protect: true, retainOnDelete: true },
        );
        return { identifier: cluster.clusterIdentifier, address: cluster.endpoint };
    }
}

export const SNAPSHOT_CREATE_TIMEOUT = "120m";

/**
 * `protect`: Pulumi refuses to delete it (`pulumi destroy` included) until
 * the option is removed; `retainOnDelete`: even then, leaving the program
 * does not delete it. The final snapshot name is fixed at creation.
 */
const MANAGED_DATABASE_OPTIONS = { protect: true, retainOnDelete: true, ignoreChanges: ["finalSnapshotIdentifier"] };

/** Logical name of a snapshot resource: the component's name and the snapshot's identifier. */
export function snapshotLogicalName(name: string, record: SnapshotRecord): string {
    return `${name}-snapshot-${record.identifier}`;
}

/** `fraud-features-final-20261127123456`: unique per database created under that identifier. */
export function finalSnapshotIdentifier(identifier: string, createdAt: string): string {
    return `${identifier}-final-${compactTimestamp(createdAt)}`;
}

/**
 * The settings that keep a database created here safe: they are not in
 * `mlops:database.manage`, so a stack cannot turn them off.
 */
export const SAFE_DATABASE_SETTINGS = {
    deletionProtection: true,
    skipFinalSnapshot: false,
    // The provider's default deletes automated backups with the database.
    deleteAutomatedBackups: false,
    storageEncrypted: true,
    copyTagsToSnapshot: true,
    // The master password lives in Secrets Manager, never in the stack's state.
    manageMasterUserPassword: true,
} as const;

export function managedInstanceArgs(
    identifier: string,
    manage: ManagedDatabaseSettings,
    createdAt: string,
    tags: Record<string, string>,
): aws.rds.InstanceArgs {
    return {
        identifier,
        engine: manage.engine,
        engineVersion: manage.engineVersion,
        instanceClass: manage.instanceClass,
        allocatedStorage: manage.allocatedStorageGiB,
        storageType: "gp3",
        username: manage.username,
        dbName: manage.databaseName,
        dbSubnetGroupName: manage.subnetGroupName,
        vpcSecurityGroupIds: manage.securityGroupIds,
        kmsKeyId: manage.kmsKeyArn,
        multiAz: manage.multiAz,
        backupRetentionPeriod: manage.backupRetentionDays,
        publiclyAccessible: false,
        finalSnapshotIdentifier: finalSnapshotIdentifier(identifier, createdAt),
        ...SAFE_DATABASE_SETTINGS,
        tags,
    };
}

export function managedClusterArgs(identifier: string, manage: ManagedDatabaseSettings, createdAt: string, tags: Record<string, string>): aws.rds.ClusterArgs {
    return {
        clusterIdentifier: identifier,
        engine: manage.engine,
        engineVersion: manage.engineVersion,
        masterUsername: manage.username,
        databaseName: manage.databaseName,
        dbSubnetGroupName: manage.subnetGroupName,
        vpcSecurityGroupIds: manage.securityGroupIds,
        kmsKeyId: manage.kmsKeyArn,
        backupRetentionPeriod: manage.backupRetentionDays,
        finalSnapshotIdentifier: finalSnapshotIdentifier(identifier, createdAt),
        ...SAFE_DATABASE_SETTINGS,
        tags,
    };
}
