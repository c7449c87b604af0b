/**
 * The IAM side of the trigger's EKS instant switch, against emulated AWS
 * (moto: IAM and STS). The handler's role needs no IAM permission for it:
 * its token is a presigned STS GetCallerIdentity URL, which the cluster's
 * authenticator calls to learn who asks (aws-iam-authenticator's README),
 * and the EKS access entry maps that role into the switch group. Here the
 * Lambda's role is created and assumed in moto, and the token made from
 * those temporary credentials is checked for what the authenticator relies
 * on. Moto cannot answer the URL itself: it takes a caller's identity from
 * the Authorization header only, never from a presigned query string
 * (moto/core/responses.py, get_access_key), so that round trip is not
 * emulated. The Kubernetes side of the group runs against a real API server
 * in test-e2e/triggerKubernetes.e2e.test.ts.
 */
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { motoClientOptions, motoPythonForTests, MOTO_REGION, startMoto, type MotoServer } from "../test-aws/motoServer";
import { CLUSTER_ID_HEADER, eksToken, tokenUrl } from "../trigger/eksToken";

const motoPython = motoPythonForTests("EKS token tests");

describe.skipIf(motoPython === undefined)("the trigger's EKS token, against moto's STS", () => {
    let server: MotoServer;
    let credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };

    beforeAll(async () => {
        server = await startMoto(motoPython as string);
        // The trigger Lambda's execution role, as Lambda assumes it.
        const iam = new IAMClient(motoClientOptions(server));
        const { Role } = await iam.send(
            new CreateRoleCommand({
                RoleName: "fraud-detector-trigger-role",
                AssumeRolePolicyDocument: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
                }),
            }),
        );
        const sts = new STSClient(motoClientOptions(server));
        const { Credentials } = await sts.send(new AssumeRoleCommand({ RoleArn: Role?.Arn, RoleSessionName: "fraud-detector-trigger-function" }));
        credentials = {
            accessKeyId: Credentials?.AccessKeyId ?? "",
            secretAccessKey: Credentials?.SecretAccessKey ?? "",
            sessionToken: Credentials?.SessionToken ?? "",
        };
    }, 60_000);
    afterAll(async () => server?.stop());

    it("is a presigned GetCallerIdentity URL of the region's STS, bound to the cluster by a signed header, valid for 60 s, as aws eks get-token makes it", async () => {
        const token = await eksToken({ clusterName: "prod", region: MOTO_REGION, credentials });
        expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
        const url = new URL(tokenUrl(token));
        expect(url.origin).toBe(`https://sts.${MOTO_REGION}.amazonaws.com`);
        expect(url.searchParams.get("Action")).toBe("GetCallerIdentity");
        expect(url.searchParams.get("Version")).toBe("2011-06-15");
        expect(url.searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
        expect(url.searchParams.get("X-Amz-Expires")).toBe("60");
        expect(url.searchParams.get("X-Amz-SignedHeaders")?.split(";")).toEqual(expect.arrayContaining(["host", CLUSTER_ID_HEADER]));
        expect(url.searchParams.get("X-Amz-Credential")).toMatch(new RegExp(`^${credentials.accessKeyId}/\\d{8}/${MOTO_REGION}/sts/aws4_request$`));
        expect(url.searchParams.get("X-Amz-Security-Token")).toBe(credentials.sessionToken);
    });

    it("binds the token to its cluster: another cluster's name gives another signature", async () => {
        const signingDate = new Date("2026-12-07T09:00:00.000Z");
        const signature = async (clusterName: string) =>
            new URL(tokenUrl(await eksToken({ clusterName, region: MOTO_REGION, credentials, signingDate }))).searchParams.get("X-Amz-Signature");
        expect(await signature("prod")).toBe(await signature("prod"));
        expect(await signature("prod")).not.toBe(await signature("staging"));
    });
});
