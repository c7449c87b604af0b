/**
 * Tell the team: a rollback publishes what happened to the SNS topic or the
 * webhook named in `mlops:rollback.notify`.
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { SNS_TOPIC_ARN_PATTERN } from "../config/schema";

export interface RollbackNotice {
    readonly stack: string;
    readonly model: string;
    readonly kind: "deploy" | "rollback";
    readonly from: string;
    readonly to: string;
    readonly reason: string;
    readonly result: "succeeded" | "failed";
    readonly durationSeconds: number;
    /** What the verification or the failure said. */
    readonly detail: string;
}

export type Notify = (destination: string, notice: RollbackNotice) => Promise<void>;

export function noticeSubject(notice: RollbackNotice): string {
    // SNS subjects are at most 100 characters.
    return `mlops ${notice.kind} ${notice.result}: ${notice.model} ${notice.from} -> ${notice.to} (${notice.stack})`.slice(0, 100);
}

export function publishToSns(client: Pick<SNSClient, "send"> = new SNSClient({})): Notify {
    return async (topicArn, notice) => {
        await client.send(new PublishCommand({ TopicArn: topicArn, Subject: noticeSubject(notice), Message: JSON.stringify(notice) }));
    };
}

/** POST the notice as JSON; a non-2xx answer is a failure. */
export const postToWebhook: Notify = async (url, notice) => {
    const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: noticeSubject(notice), ...notice }),
        signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`the webhook answered ${response.status} ${response.statusText}`);
};

export const notifyDestination: Notify = (destination, notice) =>
    SNS_TOPIC_ARN_PATTERN.test(destination) ? publishToSns()(destination, notice) : postToWebhook(destination, notice);
