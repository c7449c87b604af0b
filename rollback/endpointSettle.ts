/**
 * Before the reconcile run after an alarm-triggered restore: wait until
 * SageMaker is done with the endpoint. An update started while it is
 * `Updating` fails ("Cannot update in-progress endpoint"), and a refresh
 * taken mid-update would record a state that is about to change.
 */
import { DescribeEndpointCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";

/** Statuses in which SageMaker is still changing the endpoint. */
export const SETTLING_STATUSES = ["Creating", "Updating", "SystemUpdating", "RollingBack"];

export interface SettleOptions {
    /** Give up after this long. @default 3600 (a guardrail bake can last an hour) */
    readonly timeoutSeconds?: number;
    /** @default 15 */
    readonly intervalSeconds?: number;
    readonly sleep?: (milliseconds: number) => Promise<void>;
    /** Told each status while waiting. */
    readonly onWait?: (status: string, waitedSeconds: number) => void;
}

/** Reads an endpoint's status (DescribeEndpoint). */
export type EndpointStatusReader = (endpointName: string) => Promise<string>;

export function sagemakerStatusReader(region: string | undefined): EndpointStatusReader {
    const client = new SageMakerClient(region === undefined ? {} : { region });
    return async (endpointName) => (await client.send(new DescribeEndpointCommand({ EndpointName: endpointName }))).EndpointStatus ?? "Unknown";
}

/** The status once the endpoint has settled; throws when it is still settling after the timeout. */
export async function waitForEndpointSettled(endpointName: string, read: EndpointStatusReader, options: SettleOptions = {}): Promise<string> {
    const timeoutSeconds = options.timeoutSeconds ?? 3600;
    const intervalSeconds = options.intervalSeconds ?? 15;
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    let waited = 0;
    let status = await read(endpointName);
    while (SETTLING_STATUSES.includes(status)) {
        if (waited >= timeoutSeconds) {
            throw new Error(`endpoint ${endpointName} is still ${status} after ${waited} s; run the rollback again once it is InService`);
        }
        options.onWait?.(status, waited);
        await sleep(intervalSeconds * 1000);
        waited += intervalSeconds;
        status = await read(endpointName);
    }
    return status;
}
