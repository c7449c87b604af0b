/**
 * The RDS calls of `mlops rollback --restore-database`, made with the AWS
 * SDK v3. Every call reads, except `restore`, which creates the new
 * database: nothing here modifies or deletes one.
 */
import {
    CreateDBInstanceCommand,
    DBClusterNotFoundFault,
    DBClusterSnapshotNotFoundFault,
    DBInstanceNotFoundFault,
    DBSnapshotNotFoundFault,
    DescribeDBClustersCommand,
    DescribeDBClusterSnapshotsCommand,
    DescribeDBInstancesCommand,
    DescribeDBSnapshotsCommand,
    RDSClient,
    RestoreDBClusterFromSnapshotCommand,
    RestoreDBInstanceFromDBSnapshotCommand,
    type RDSClientConfig,
    type Tag,
    type VpcSecurityGroupMembership,
} from "@aws-sdk/client-rds";
import { restoredWriterIdentifier, type DatabasePlacement, type DatabaseState, type RdsPorts, type RestorePlan, type SnapshotState } from "./restore";

const NOT_FOUND = [DBInstanceNotFoundFault, DBClusterNotFoundFault, DBSnapshotNotFoundFault, DBClusterSnapshotNotFoundFault];

/** undefined for a "not found" fault; any other error goes up. */
async function unlessNotFound<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
        return await call();
    } catch (error) {
        if (NOT_FOUND.some((fault) => error instanceof fault)) return undefined;
        throw error;
    }
}

/** A group of the user's own, or undefined for RDS's default one (`default.postgres16`, `default:postgres-16`), which a restore gets anyway. */
function unlessDefault(group: string | undefined): string | undefined {
    return group === undefined || /^default[.:]/.test(group) ? undefined : group;
}

/** The ids of an instance's or a cluster's VPC security groups. */
function securityGroupIdsOf(groups: VpcSecurityGroupMembership[] | undefined): string[] {
    return (groups ?? []).flatMap((group) => (group.VpcSecurityGroupId ? [group.VpcSecurityGroupId] : []));
}

const tagList = (tags: Record<string, string>): Tag[] => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

export function awsRdsPorts(config: RDSClientConfig = {}): RdsPorts {
    const rds = new RDSClient(config);
    return {
        describeSnapshot: async (kind, identifier): Promise<SnapshotState | undefined> => {
            if (kind === "instance") {
                const found = await unlessNotFound(() => rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: identifier })));
                const snapshot = found?.DBSnapshots?.[0];
                return snapshot && { status: snapshot.Status ?? "unknown", createdAt: snapshot.SnapshotCreateTime };
            }
            const found = await unlessNotFound(() => rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: identifier })));
            const snapshot = found?.DBClusterSnapshots?.[0];
            return snapshot && { status: snapshot.Status ?? "unknown", createdAt: snapshot.SnapshotCreateTime };
        },
        describeDatabase: async (kind, identifier): Promise<DatabaseState | undefined> => {
            if (kind === "instance") {
                const found = await unlessNotFound(() => rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier })));
                const instance = found?.DBInstances?.[0];
                return instance && { status: instance.DBInstanceStatus ?? "unknown", address: instance.Endpoint?.Address };
            }
            const found = await unlessNotFound(() => rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier })));
            const cluster = found?.DBClusters?.[0];
            if (cluster === undefined) return undefined;
            // A cluster is only usable once its writer is.
            const writer = await unlessNotFound(() => rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: restoredWriterIdentifier(identifier) })));
            const writerStatus = writer?.DBInstances?.[0]?.DBInstanceStatus;
            const status =
                cluster.Status === "available" && writerStatus !== undefined && writerStatus !== "available"
                    ? `writer ${writerStatus}`
                    : (cluster.Status ?? "unknown");
            return { status, address: cluster.Endpoint };
        },
        placementOf: async (kind, identifier): Promise<DatabasePlacement> => {
            if (kind === "instance") {
                const instance = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }))).DBInstances?.[0];
                return {
                    instanceClass: instance?.DBInstanceClass,
                    subnetGroupName: instance?.DBSubnetGroup?.DBSubnetGroupName,
                    securityGroupIds: securityGroupIdsOf(instance?.VpcSecurityGroups),
                    multiAz: instance?.MultiAZ,
                    engine: instance?.Engine,
                    parameterGroupName: unlessDefault(instance?.DBParameterGroups?.[0]?.DBParameterGroupName),
                    optionGroupName: unlessDefault(instance?.OptionGroupMemberships?.[0]?.OptionGroupName),
                    port: instance?.Endpoint?.Port,
                    storageType: instance?.StorageType,
                    provisionedIops: instance?.StorageType === "io1" || instance?.StorageType === "io2" ? instance.Iops : undefined,
                    iamAuthentication: instance?.IAMDatabaseAuthenticationEnabled,
                    deletionProtection: instance?.DeletionProtection === true,
                };
            }
            const cluster = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier }))).DBClusters?.[0];
            const writerId = cluster?.DBClusterMembers?.find((member) => member.IsClusterWriter)?.DBInstanceIdentifier;
            const writer =
                writerId === undefined ? undefined : (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: writerId }))).DBInstances?.[0];
            return {
                instanceClass: writer?.DBInstanceClass,
                subnetGroupName: cluster?.DBSubnetGroup,
                securityGroupIds: securityGroupIdsOf(cluster?.VpcSecurityGroups),
                engine: cluster?.Engine,
                engineVersion: cluster?.EngineVersion,
                parameterGroupName: unlessDefault(cluster?.DBClusterParameterGroup),
                port: cluster?.Port,
                iamAuthentication: cluster?.IAMDatabaseAuthenticationEnabled,
                serverlessV2: cluster?.ServerlessV2ScalingConfiguration,
                deletionProtection: cluster?.DeletionProtection === true,
            };
        },
        restore: async (plan: RestorePlan, placement: DatabasePlacement, tags: Record<string, string>): Promise<void> => {
            const common = {
                DBSubnetGroupName: placement.subnetGroupName,
                VpcSecurityGroupIds: placement.securityGroupIds.length > 0 ? placement.securityGroupIds : undefined,
                Port: placement.port,
                EnableIAMDatabaseAuthentication: placement.iamAuthentication,
                // The new database is as hard to delete by accident as the data it holds deserves.
                DeletionProtection: true,
                CopyTagsToSnapshot: true,
                Tags: tagList(tags),
            };
            if (plan.kind === "instance") {
                await rds.send(
                    new RestoreDBInstanceFromDBSnapshotCommand({
                        ...common,
                        DBInstanceIdentifier: plan.restoredDatabase,
                        DBSnapshotIdentifier: plan.snapshot.identifier,
                        DBInstanceClass: placement.instanceClass,
                        MultiAZ: placement.multiAz,
                        DBParameterGroupName: placement.parameterGroupName,
                        OptionGroupName: placement.optionGroupName,
                        StorageType: placement.storageType,
                        // io1 and io2 need their IOPS with the storage type.
                        Iops: placement.provisionedIops,
                        PubliclyAccessible: false,
                    }),
                );
                return;
            }
            if (placement.engine === undefined || placement.instanceClass === undefined) {
                throw new Error(
                    `cannot tell the engine and writer instance class of cluster ${plan.replacedDatabase}; restore ${plan.snapshot.identifier} by hand`,
                );
            }
            await rds.send(
                new RestoreDBClusterFromSnapshotCommand({
                    ...common,
                    DBClusterIdentifier: plan.restoredDatabase,
                    SnapshotIdentifier: plan.snapshot.identifier,
                    Engine: placement.engine,
                    EngineVersion: placement.engineVersion,
                    DBClusterParameterGroupName: placement.parameterGroupName,
                    ServerlessV2ScalingConfiguration: placement.serverlessV2,
                }),
            );
            await rds.send(
                new CreateDBInstanceCommand({
                    DBInstanceIdentifier: restoredWriterIdentifier(plan.restoredDatabase),
                    DBClusterIdentifier: plan.restoredDatabase,
                    Engine: placement.engine,
                    DBInstanceClass: placement.instanceClass,
                    PubliclyAccessible: false,
                    Tags: tagList(tags),
                }),
            );
        },
    };
}
