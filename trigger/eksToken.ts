/**
 * A bearer token for an EKS cluster's API server, as `aws eks get-token`
 * makes it: a presigned STS GetCallerIdentity URL that names the cluster in
 * the signed `x-k8s-aws-id` header, base64url-encoded after `k8s-aws-v1.`
 * (aws-iam-authenticator's README, "API Authorization from Outside a
 * Cluster"). The API server calls the URL and learns the caller's IAM ARN,
 * which the cluster's access entries map to Kubernetes groups. The token
 * needs no IAM permission (GetCallerIdentity needs none); EKS accepts it for
 * 15 minutes, so the handler makes one per event.
 */
import { HttpRequest } from "@smithy/core/protocols";
import { Hash } from "@smithy/core/serde";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";

/** The signed header that binds a token to one cluster. */
export const CLUSTER_ID_HEADER = "x-k8s-aws-id";
const TOKEN_PREFIX = "k8s-aws-v1.";
/** How long the presigned URL is valid, in seconds; `aws eks get-token` uses 60. */
const PRESIGN_SECONDS = 60;

export interface EksTokenRequest {
    readonly clusterName: string;
    readonly region: string;
    readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
    /** STS's endpoint. @default https://sts.<region>.amazonaws.com (tests: a loopback STS) */
    readonly stsEndpoint?: string;
    /** The signing time. @default now */
    readonly signingDate?: Date;
}

export async function eksToken(request: EksTokenRequest): Promise<string> {
    const endpoint = new URL(request.stsEndpoint ?? `https://sts.${request.region}.amazonaws.com`);
    const signer = new SignatureV4({
        credentials: request.credentials,
        region: request.region,
        service: "sts",
        sha256: Hash.bind(null, "sha256"),
    });
    const presigned = await signer.presign(
        new HttpRequest({
            method: "GET",
            protocol: endpoint.protocol,
            hostname: endpoint.hostname,
            port: endpoint.port === "" ? undefined : Number(endpoint.port),
            path: "/",
            query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
            headers: { host: endpoint.host, [CLUSTER_ID_HEADER]: request.clusterName },
        }),
        { expiresIn: PRESIGN_SECONDS, signingDate: request.signingDate },
    );
    const query = Object.entries(presigned.query ?? {})
        .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((item) => `${encodeURIComponent(key)}=${encodeURIComponent(String(item))}`))
        .join("&");
    const url = `${endpoint.protocol}//${endpoint.host}/?${query}`;
    return `${TOKEN_PREFIX}${Buffer.from(url).toString("base64url")}`;
}

/** The presigned URL inside a token (what the API server calls). */
export function tokenUrl(token: string): string {
    if (!token.startsWith(TOKEN_PREFIX)) throw new Error(`not an EKS token: it does not start with ${TOKEN_PREFIX}`);
    return Buffer.from(token.slice(TOKEN_PREFIX.length), "base64url").toString("utf8");
}
