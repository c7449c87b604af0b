/**
 * `mlops:rollback.notify` as it may be shown and where a notice goes, without
 * sending anything (rollback/notify.ts sends; this stays light, so that the
 * rollback flow loads no AWS SDK to name a target).
 *
 * A webhook URL is a credential (Slack, Teams and most chat services put the
 * token in its path), so it is never printed: wherever a notify target shows
 * (a failed notice, an error from fetch), it shows as its scheme and host
 * only, `https://hooks.slack.com/…`; a target kept as a Pulumi secret not at
 * all. An SNS topic ARN is a name, not a credential, and shows as it is.
 */
import {
    isSecretConfigValue,
    notifyTargetProblem,
    NOTIFY_CONFIG_KEY,
    SNS_TOPIC_ARN_PATTERN,
    URL_IN_TEXT,
    withoutUrlSecrets,
    type NotifyTargetInput,
} from "../config/schema";
import type { StackSession } from "./automation";

/** How a secret notify target is named in messages: by its key, never by any part of its value. */
export const SECRET_WEBHOOK = `the secret in ${NOTIFY_CONFIG_KEY} (value not shown)`;

/**
 * A notify target as it may be printed: an SNS topic ARN as it is; a URL as
 * its scheme and host (port included), `https://hooks.slack.com/…`, without
 * its user info, path, query or fragment; a Pulumi secret as `SECRET_WEBHOOK`.
 *
 *     describeNotifyTarget("https://hooks.slack.com/services/T0/B0/XYZ")  // "https://hooks.slack.com/…"
 *     describeNotifyTarget("https://user:pw@example.com:8443/hook")       // "https://example.com:8443/…"
 *     describeNotifyTarget({ secure: "v1:abc" })                          // SECRET_WEBHOOK
 */
export function describeNotifyTarget(target: NotifyTargetInput): string {
    if (isSecretConfigValue(target)) return SECRET_WEBHOOK;
    if (SNS_TOPIC_ARN_PATTERN.test(target)) return target;
    return redactedUrl(target);
}

/** `https://user:pw@host:8443/path?q#f` → `https://host:8443/…`. */
export function redactedUrl(text: string): string {
    try {
        const url = new URL(text);
        return `${url.protocol}//${url.host}/…`;
    } catch {
        return "a webhook URL (not shown)";
    }
}

/** Every URL in `text` (an error message, say) cut down to its scheme and host (`withoutUrlSecrets`); with `secret`, replaced by `SECRET_WEBHOOK`. */
export function withoutUrls(text: string, secret = false): string {
    return secret ? text.replace(URL_IN_TEXT, SECRET_WEBHOOK) : withoutUrlSecrets(text);
}

/**
 * The topic ARN or webhook URL to send to: the configured value, or for a
 * Pulumi secret its value decrypted by the engine (`stack.configValue`,
 * `pulumi config get --path mlops:rollback.notify`). Throws, without the
 * value, when the secret cannot be read or is not a notify target.
 */
export async function notifyAddress(target: NotifyTargetInput, stack: Pick<StackSession, "configValue">): Promise<string> {
    if (!isSecretConfigValue(target)) return target;
    if (stack.configValue === undefined) throw new Error("it cannot be decrypted here: no engine to ask");
    const value = await stack.configValue(NOTIFY_CONFIG_KEY);
    if (value === undefined) throw new Error(`the stack's config has no ${NOTIFY_CONFIG_KEY}`);
    const problem = notifyTargetProblem(value);
    if (problem !== undefined) throw new Error(`its decrypted value is not a notify target: ${problem}`);
    return value;
}

/**
 * The warning for a notice that could not be sent, safe to print: the target
 * as `describeNotifyTarget` shows it, and the error with every URL in it cut
 * down (or, for a secret target, removed).
 */
export function notifyFailure(target: NotifyTargetInput, error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return `could not notify ${describeNotifyTarget(target)}: ${withoutUrls(message, isSecretConfigValue(target))}`;
}
