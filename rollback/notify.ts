/**
 * Tell the team: a rollback publishes what happened to the SNS topic or the
 * webhook named in `mlops:rollback.notify`.
 *
 * A webhook URL is a credential: errors here never quote it (see
 * rollback/notifyTarget.ts for how a target is shown).
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { SNS_TOPIC_ARN_PATTERN } from "../config/schema";
import { snsSubject } from "../trigger/notice";
import { withoutUrls } from "./notifyTarget";

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

/** Send `notice` to `destination`, a topic ARN or webhook URL (a secret already decrypted); errors never quote a webhook URL. */
export type Notify = (destination: string, notice: RollbackNotice) => Promise<void>;

/**
 * The notice in one line: the SNS subject and the webhook's `text`. SNS
 * refuses (and the notice is lost with the whole Publish) a subject of 100
 * characters or more, with a line break or a control character, so it is
 * made safe by the trigger's own rule (`snsSubject`: printable ASCII, at most
 * 99 characters, a longer one cut with `...`).
 */
export function noticeSubject(notice: RollbackNotice): string {
    return snsSubject(`mlops ${notice.kind} ${notice.result}: ${notice.model} ${notice.from} -> ${notice.to} (${notice.stack})`);
}

export function publishToSns(client: Pick<SNSClient, "send"> = new SNSClient({})): Notify {
    return async (topicArn, notice) => {
        await client.send(new PublishCommand({ TopicArn: topicArn, Subject: noticeSubject(notice), Message: JSON.stringify(notice) }));
    };
}

/** Node's network error codes (ECONNREFUSED, ENOTFOUND...), which name the failure without the URL. */
function networkCause(error: unknown): string {
    const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
    if (typeof cause?.code === "string") return cause.code;
    if ((error as { name?: unknown } | undefined)?.name === "TimeoutError") return "no answer within 10 s";
    return typeof cause?.message === "string" ? cause.message : error instanceof Error ? error.message : String(error);
}

/**
 * POST the notice as JSON; a non-2xx answer is a failure. Errors never
 * quote the URL (the caller names the target, see `notifyFailure`): fetch's
 * own ("Failed to parse URL from <url>", "... includes credentials: <url>")
 * quote it whole.
 */
export const postToWebhook: Notify = async (url, notice) => {
    let response: Response;
    try {
        response = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ text: noticeSubject(notice), ...notice }),
            signal: AbortSignal.timeout(10_000),
        });
    } catch (error) {
        throw new Error(`the webhook could not be reached (${withoutUrls(networkCause(error))})`);
    }
    // The body is not read: a service's error page may echo the request's URL.
    if (!response.ok) throw new Error(`the webhook answered ${response.status} ${withoutUrls(response.statusText)}`);
};

export const notifyDestination: Notify = (destination, notice) =>
    SNS_TOPIC_ARN_PATTERN.test(destination) ? publishToSns()(destination, notice) : postToWebhook(destination, notice);
