/**
 * Waiting for SageMaker to be done with an endpoint. An update started while
 * it is `Updating` fails ("Cannot update in-progress endpoint"), and a
 * refresh taken mid-update would record a state that is about to change: the
 * reconcile run waits (`waitForEndpointSettled`), the alarm trigger re-checks
 * a few times and then leaves the endpoint alone (`readWhileSettling`).
 */
/** Statuses in which SageMaker is still changing the endpoint. */
export const SETTLING_STATUSES = ["Creating", "Updating", "SystemUpdating", "RollingBack"];

/** SageMaker statuses in which it is changing the endpoint or removing it: no update call may be made (the trigger and the weights switch leave it alone or wait). */
export const BUSY_ENDPOINT_STATUSES = [...SETTLING_STATUSES, "Deleting"];

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
    // Loaded on first use: the SageMaker client is a noticeable part of a
    // second to load, which the modules importing this file for its waits
    // (the CLI's pin change, a Kubernetes rollback included) never need.
    const sagemaker = import("@aws-sdk/client-sagemaker").then((sdk) => ({
        client: new sdk.SageMakerClient(region === undefined ? {} : { region }),
        describe: (endpointName: string) => new sdk.DescribeEndpointCommand({ EndpointName: endpointName }),
    }));
    return async (endpointName) => {
        const { client, describe } = await sagemaker;
        return (await client.send(describe(endpointName))).EndpointStatus ?? "Unknown";
    };
}

/**
 * Read, then re-read up to `rechecks` times `intervalSeconds` apart while
 * `settling` says SageMaker is still at work; returns the last reading.
 * The CLI's wait and the alarm trigger's bounded re-check both use it.
 */
export async function readWhileSettling<T>(
    read: () => Promise<T>,
    settling: (reading: T) => boolean,
    options: {
        readonly rechecks: number;
        readonly intervalSeconds: number;
        readonly sleep?: (milliseconds: number) => Promise<void>;
        readonly onWait?: (reading: T, waitedSeconds: number) => void;
    },
): Promise<T> {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    let reading = await read();
    for (let recheck = 0; recheck < options.rechecks && settling(reading); recheck++) {
        options.onWait?.(reading, recheck * options.intervalSeconds);
        await sleep(options.intervalSeconds * 1000);
        reading = await read();
    }
    return reading;
}

/** The status once the endpoint has settled; throws when it is still settling after the timeout. */
export async function waitForEndpointSettled(endpointName: string, read: EndpointStatusReader, options: SettleOptions = {}): Promise<string> {
    const timeoutSeconds = options.timeoutSeconds ?? 3600;
    const intervalSeconds = options.intervalSeconds ?? 15;
    const rechecks = Math.ceil(timeoutSeconds / intervalSeconds);
    const status = await readWhileSettling(
        () => read(endpointName),
        (current) => SETTLING_STATUSES.includes(current),
        {
            rechecks,
            intervalSeconds,
            sleep: options.sleep,
            onWait: options.onWait,
        },
    );
    if (SETTLING_STATUSES.includes(status)) {
        throw new Error(`endpoint ${endpointName} is still ${status} after ${rechecks * intervalSeconds} s; run the rollback again once it is InService`);
    }
    return status;
}
