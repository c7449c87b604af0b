/**
 * The trigger's port to the cluster for the Kubernetes instant switch: a
 * `KubernetesTrafficSwitch` on an API server reached with a bearer token,
 * made afresh for each call (an EKS token lasts 15 minutes, a Lambda
 * container much longer). On EKS the token is `eksToken`'s; tests give the
 * sandbox API server's own.
 */
import * as k8s from "@kubernetes/client-node";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { KubernetesTrafficSwitch, type TrafficSwitch } from "../rollback/kubernetesSwitch";
import { eksToken } from "./eksToken";

export type ClusterSwitchPort = Pick<TrafficSwitch, "observe" | "switchSelector">;

export interface ClusterAccess {
    /** The API server's URL, e.g. an EKS cluster's endpoint. */
    readonly server: string;
    /** Its CA certificate, base64-encoded PEM (EKS: certificateAuthority.data). */
    readonly caData: string;
    /** A bearer token, asked for on each call. */
    readonly token: () => Promise<string>;
}

export function clusterSwitch(access: ClusterAccess): ClusterSwitchPort {
    const client = async () => {
        const kubeConfig = new k8s.KubeConfig();
        kubeConfig.loadFromOptions({
            clusters: [{ name: "cluster", server: access.server, caData: access.caData }],
            users: [{ name: "mlops-rollback-trigger", token: await access.token() }],
            contexts: [{ name: "trigger", cluster: "cluster", user: "mlops-rollback-trigger" }],
            currentContext: "trigger",
        });
        return new KubernetesTrafficSwitch(kubeConfig);
    };
    return {
        observe: async (target) => (await client()).observe(target),
        switchSelector: async (target) => (await client()).switchSelector(target),
    };
}

/** The port on EKS, authenticated as the Lambda's role (its credentials from the environment, as every AWS SDK client here). */
export function eksClusterSwitch(eks: { readonly clusterName: string; readonly endpoint: string; readonly caData: string }, region: string): ClusterSwitchPort {
    const credentials = defaultProvider();
    return clusterSwitch({ server: eks.endpoint, caData: eks.caData, token: () => eksToken({ clusterName: eks.clusterName, region, credentials }) });
}
