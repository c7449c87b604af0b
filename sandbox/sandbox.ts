/**
 * A Kubernetes control plane on loopback for real `pulumi up` and
 * `mlops rollback` runs: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and kwok (fake nodes, so pods become Ready without a
 * container runtime), all built from Go modules by build-tools.sh.
 *
 *   npm run sandbox:up     start everything, write .sandbox/kubeconfig and .sandbox/env
 *   npm run sandbox:down   stop everything it started, by pid
 *
 * Every process listens on 127.0.0.1 only, on free ports. State (pids,
 * ports, paths) is kept in .sandbox/state.json so that `down` stops exactly
 * what `up` started.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import * as path from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { parseStackConfig, rolloutTimeoutSeconds } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";

export const PROJECT_DIR = path.resolve(__dirname, "..");
export const SANDBOX_DIR = process.env.MLOPS_SANDBOX_DIR ?? path.join(PROJECT_DIR, ".sandbox");
/**
 * Plugins kept in the repo, test tooling for the sandbox (the module proxy
 * refuses Pulumi's own Node.js plugins): pulumi-language-nodejs, our
 * stand-in Node.js language host, which runs a project's program (and
 * policy packs) as the real host does; and pulumi-analyzer-policy-nodejs,
 * the engine's fallback for policy packs when it finds no Node.js host.
 */
export const SANDBOX_PLUGINS_DIR = path.join(PROJECT_DIR, "sandbox", "plugins");
const STATE_FILE = path.join(SANDBOX_DIR, "state.json");
/** The token kubectl and the Pulumi provider use; the sandbox is loopback-only and thrown away. */
const ADMIN_TOKEN = "mlops-sandbox-admin";
export const PULUMI_PASSPHRASE = "mlops-sandbox";

export interface SandboxState {
    readonly bin: string;
    readonly dir: string;
    readonly kubeconfig: string;
    readonly apiServerPort: number;
    readonly pids: Record<string, number>;
    /** Environment for pulumi, mlops and kubectl against the sandbox. */
    readonly env: Record<string, string>;
}

function log(message: string): void {
    process.stderr.write(`[sandbox ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** A free TCP port on 127.0.0.1 (the OS picks; the listener closes before the port is used). */
function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
        });
    });
}

/** Build (or find in the cache) the tools; returns their bin directory. */
export function ensureTools(): string {
    log("building the tools from Go modules (cached after the first run)...");
    const output = execFileSync("bash", [path.join(__dirname, "build-tools.sh")], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    return output.trim().split("\n").pop() ?? "";
}

function start(name: string, bin: string, args: string[], dir: string, env: Record<string, string> = {}): number {
    const logFile = openSync(path.join(dir, `${name}.log`), "a");
    const child = spawn(path.join(bin, name), args, { detached: true, stdio: ["ignore", logFile, logFile], env: { ...process.env, ...env } });
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    child.unref();
    log(`${name} started (pid ${child.pid}, log ${path.join(dir, `${name}.log`)})`);
    return child.pid;
}

async function waitFor(what: string, check: () => boolean, timeoutSeconds: number): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (Date.now() < deadline) {
        if (check()) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(`${what} was not ready after ${timeoutSeconds}s; see the logs in ${SANDBOX_DIR}`);
}

function openssl(args: string[], cwd: string): void {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA, a serving certificate for 127.0.0.1, and the service-account key pair. */
function writeCertificates(dir: string): void {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3", "-subj", "/CN=mlops-sandbox-ca", "-keyout", "ca.key", "-out", "ca.crt"], dir);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver", "-keyout", "apiserver.key", "-out", "apiserver.csr"], dir);
    writeFileSync(path.join(dir, "apiserver.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    openssl(
        [
            "x509",
            "-req",
            "-in",
            "apiserver.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "3",
            "-extfile",
            "apiserver.ext",
            "-out",
            "apiserver.crt",
        ],
        dir,
    );
    openssl(["genrsa", "-out", "sa.key", "2048"], dir);
    openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
}

function kubeconfigYaml(port: number, caFile: string): string {
    return [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: sandbox",
        "  cluster:",
        `    server: https://127.0.0.1:${port}`,
        `    certificate-authority: ${caFile}`,
        "users:",
        "- name: admin",
        "  user:",
        `    token: ${ADMIN_TOKEN}`,
        "contexts:",
        "- name: sandbox",
        "  context: { cluster: sandbox, user: admin }",
        "current-context: sandbox",
        "",
    ].join("\n");
}

const KWOK_NODE = `apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    type: kwok
status:
  allocatable: { cpu: "64", memory: 256Gi, pods: "110" }
  capacity: { cpu: "64", memory: 256Gi, pods: "110" }
`;

/**
 * kwok's behaviour comes from Stage objects: the "fast" node and pod stages
 * that ship in the kwok module (nodes get Ready, pods get Ready at once),
 * read from the module the tools were built from.
 */
function writeKwokStages(dir: string, slowImages: NonNullable<SandboxOptions["slowImages"]>): string {
    // The go command, also where a bare environment has no Go on PATH (build-tools.sh does the same).
    const go = existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : "go";
    const module = execFileSync(go, ["list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"], {
        cwd: path.join(__dirname, "tools", "kwok"),
        encoding: "utf8",
    }).trim();
    const stageFiles = [
        "node/fast/node-initialize.yaml",
        // Without a heartbeat the node lifecycle controller marks the node
        // NotReady after 40 s, and with it every pod: Deployments lose
        // availability mid-update.
        "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
        "pod/fast/pod-ready.yaml",
        "pod/fast/pod-complete.yaml",
        "pod/fast/pod-delete.yaml",
    ];
    const stages = stageFiles.map((stage) => {
        const text = readFileSync(path.join(module, "kustomize", "stage", stage), "utf8");
        return stage.endsWith("pod-ready.yaml") ? podReadyStages(text, slowImages) : text;
    });
    const file = path.join(dir, "kwok-stages.yaml");
    writeFileSync(file, stages.join("\n---\n"));
    return file;
}

/** The catalog version whose pods never become ready: a model that never loads, for the failure tests. */
export const NEVER_READY_VERSION = "never-ready";

/**
 * How an update to the never-ready version must fail: pulumi-kubernetes gave
 * up waiting for the Deployment's pods to be ready within its customTimeouts
 * ("'<name>' timed out waiting to be Ready", pulumi-kubernetes
 * provider/pkg/await/error.go). A provider or program error fails the update
 * too, and sooner; the failure tests check for this cause.
 */
export const NEVER_READY_CAUSE = /timed out waiting to be Ready/;

/**
 * The rollout timeout a stack file gives the program's Deployments, in
 * seconds (`rolloutTimeoutSeconds`, defaults included, of its parsed
 * config): how long the never-ready version's update must take at least.
 */
export function rolloutTimeoutSecondsOf(stackFile: string): number {
    const { kubernetes } = parseStackConfig(rawConfigFromStackFile(stackFile));
    if (kubernetes === undefined) throw new Error(`${stackFile} is not a Kubernetes stack: it has no mlops:kubernetes`);
    return rolloutTimeoutSeconds(kubernetes);
}

interface PodReadyStage {
    metadata: { name: string };
    spec: { selector: { matchExpressions: unknown[] }; delay?: { durationMilliseconds: number } };
}

/**
 * kwok's pod-ready stage, minus the pods of the never-ready version; pods of
 * a slow image get a copy of the stage that waits its delay first.
 */
function podReadyStages(podReadyStage: string, slowImages: NonNullable<SandboxOptions["slowImages"]>): string {
    const parse = () => {
        const stage = parseYaml(podReadyStage) as PodReadyStage;
        stage.spec.selector.matchExpressions.push({ key: '.metadata.labels["mlops-rollback/version"]', operator: "NotIn", values: [NEVER_READY_VERSION] });
        return stage;
    };
    const image = ".spec.containers.[0].image";
    const immediate = parse();
    if (slowImages.length > 0) immediate.spec.selector.matchExpressions.push({ key: image, operator: "NotIn", values: slowImages.map((slow) => slow.image) });
    const slow = slowImages.map((slowImage, index) => {
        const stage = parse();
        stage.metadata.name = `pod-ready-slow-${index}`;
        stage.spec.selector.matchExpressions.push({ key: image, operator: "In", values: [slowImage.image] });
        stage.spec.delay = { durationMilliseconds: slowImage.readySeconds * 1000 };
        return stage;
    });
    return [immediate, ...slow].map((stage) => stringifyYaml(stage)).join("\n---\n");
}

function auditArguments(dir: string): string[] {
    const policy = path.join(dir, "audit-policy.yaml");
    writeFileSync(policy, AUDIT_POLICY);
    return [`--audit-policy-file=${policy}`, `--audit-log-path=${path.join(dir, "audit.log")}`, "--audit-log-format=json", "--audit-log-mode=blocking"];
}

export function readState(): SandboxState | undefined {
    return existsSync(STATE_FILE) ? (JSON.parse(readFileSync(STATE_FILE, "utf8")) as SandboxState) : undefined;
}

export function kubectl(state: SandboxState, args: string[], input?: string): string {
    return execFileSync(path.join(state.bin, "kubectl"), ["--kubeconfig", state.kubeconfig, ...args], {
        encoding: "utf8",
        input,
        stdio: ["pipe", "pipe", "pipe"],
    });
}

export interface SandboxOptions {
    /**
     * Images whose pods become ready only this long after they are created:
     * a model that takes that long to load (the benchmarks). Every other pod
     * is ready at once.
     */
    readonly slowImages?: readonly { readonly image: string; readonly readySeconds: number }[];
    /**
     * Write the API server's audit log of every write (create, update,
     * patch, delete) at the Metadata level to <dir>/audit.log, for the
     * benchmark's count of the writes on a rollback's critical path.
     * @default false
     */
    readonly auditLog?: boolean;
    /**
     * More bearer tokens the API server accepts (its static token file), each
     * a user in some groups: stands for an EKS access entry mapping an IAM
     * role to Kubernetes groups, for tests of what those groups may do.
     * @default none: only the admin token
     */
    readonly tokens?: readonly { readonly token: string; readonly user: string; readonly groups: readonly string[] }[];
}

/** The audit policy of `auditLog`: writes only, who and what, no bodies (Kubernetes docs, "Auditing"). */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: None
`;

/** The audit log of a sandbox started with `auditLog`. */
export const auditLogOf = (state: Pick<SandboxState, "dir">): string => path.join(state.dir, "audit.log");

/** One write as the audit log records it (audit.k8s.io/v1 Event, Metadata level): who, what, when, and the answer. */
export interface AuditEvent {
    readonly verb: string;
    readonly user: { readonly username: string };
    readonly userAgent?: string;
    readonly requestReceivedTimestamp: string;
    readonly objectRef?: { readonly resource?: string; readonly namespace?: string; readonly name?: string; readonly subresource?: string };
    readonly responseStatus?: { readonly code?: number };
}

/** Every write the API server has logged so far (one JSON event per line); none before the first. */
export function auditEvents(state: Pick<SandboxState, "dir">): AuditEvent[] {
    let text: string;
    try {
        text = readFileSync(auditLogOf(state), "utf8");
    } catch {
        return [];
    }
    return text
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as AuditEvent);
}

export async function sandboxUp(options: SandboxOptions = {}): Promise<SandboxState> {
    if (readState() !== undefined) await sandboxDown();
    const bin = ensureTools();
    rmSync(SANDBOX_DIR, { recursive: true, force: true });
    const dir = SANDBOX_DIR;
    for (const sub of ["etcd", "pki", "state"]) mkdirSync(path.join(dir, sub), { recursive: true });
    const pki = path.join(dir, "pki");
    writeCertificates(pki);
    const extraTokens = (options.tokens ?? []).map(({ token, user, groups }) => `${token},${user},${user},"${groups.join(",")}"\n`);
    writeFileSync(path.join(pki, "tokens.csv"), [`${ADMIN_TOKEN},admin,admin,system:masters\n`, ...extraTokens].join(""));

    const [etcdClient, etcdPeer, apiServerPort, kwokPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const pids: Record<string, number> = {};
    const kubeconfig = path.join(dir, "kubeconfig");
    writeFileSync(kubeconfig, kubeconfigYaml(apiServerPort, path.join(pki, "ca.crt")));
    const partial = (): SandboxState => ({ bin, dir, kubeconfig, apiServerPort, pids, env: {} });
    // Written at every start, so that `down` can stop a half-started sandbox.
    const save = () => writeFileSync(STATE_FILE, JSON.stringify(partial(), null, 2));

    pids.etcd = start(
        "etcd",
        bin,
        [
            `--data-dir=${path.join(dir, "etcd")}`,
            `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
            `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
            `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
            `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
            `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
            "--listen-metrics-urls=",
            "--log-level=warn",
        ],
        dir,
    );
    save();
    pids["kube-apiserver"] = start(
        "kube-apiserver",
        bin,
        [
            `--etcd-servers=http://127.0.0.1:${etcdClient}`,
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            `--secure-port=${apiServerPort}`,
            `--tls-cert-file=${path.join(pki, "apiserver.crt")}`,
            `--tls-private-key-file=${path.join(pki, "apiserver.key")}`,
            `--client-ca-file=${path.join(pki, "ca.crt")}`,
            `--token-auth-file=${path.join(pki, "tokens.csv")}`,
            `--service-account-key-file=${path.join(pki, "sa.pub")}`,
            `--service-account-signing-key-file=${path.join(pki, "sa.key")}`,
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            // Cluster IPs are only allocated in etcd; nothing is routed to them.
            "--service-cluster-ip-range=10.96.0.0/16",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=false",
            ...(options.auditLog === true ? auditArguments(dir) : []),
        ],
        dir,
    );
    save();
    await waitFor(
        "kube-apiserver",
        () => {
            try {
                return kubectl(partial(), ["get", "--raw", "/readyz"]).trim() === "ok";
            } catch {
                return false;
            }
        },
        120,
    );

    const common = [`--kubeconfig=${kubeconfig}`, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0"];
    pids["kube-controller-manager"] = start(
        "kube-controller-manager",
        bin,
        [
            ...common,
            `--service-account-private-key-file=${path.join(pki, "sa.key")}`,
            `--root-ca-file=${path.join(pki, "ca.crt")}`,
            "--use-service-account-credentials=false",
        ],
        dir,
    );
    save();
    pids["kube-scheduler"] = start("kube-scheduler", bin, common, dir);
    save();
    pids.kwok = start(
        "kwok",
        bin,
        [
            `--kubeconfig=${kubeconfig}`,
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            `--server-address=127.0.0.1:${kwokPort}`,
            `--config=${writeKwokStages(dir, options.slowImages ?? [])}`,
            "--node-lease-duration-seconds=40",
            "--node-ip=127.0.0.1",
        ],
        dir,
    );
    save();
    kubectl(partial(), ["apply", "-f", "-"], KWOK_NODE);
    await waitFor(
        "the kwok node",
        () => kubectl(partial(), ["get", "node", "kwok-node-0", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"]) === "True",
        60,
    );

    const env = {
        KUBECONFIG: kubeconfig,
        PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: PULUMI_PASSPHRASE,
        PULUMI_HOME: path.join(dir, "pulumi-home"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
        // The language host names the providers a program's node_modules holds
        // (@pulumi/aws too); plugins are never downloadable here, so the
        // engine must not spend seconds trying before every run.
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PATH: `${bin}:${SANDBOX_PLUGINS_DIR}:${process.env.PATH ?? ""}`,
    };
    const state: SandboxState = { bin, dir, kubeconfig, apiServerPort, pids, env };
    writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
    writeFileSync(
        path.join(dir, "env"),
        Object.entries(env)
            .map(([key, value]) => `export ${key}=${JSON.stringify(value)}`)
            .join("\n") + "\n",
    );
    log(`ready: kubectl --kubeconfig ${kubeconfig}; source ${path.join(dir, "env")} for pulumi and mlops`);
    return state;
}

/**
 * Kill the kube-apiserver (SIGKILL: a crash, not a drain, which waits for
 * every watch to end) and start it again with the same arguments (read from
 * /proc), for the failure tests: clients see refused connections for
 * `downSeconds`, then the same cluster (etcd keeps every object).
 */
export async function restartApiServer(state: SandboxState, downSeconds: number): Promise<SandboxState> {
    const pid = state.pids["kube-apiserver"];
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8")
        .split("\0")
        .filter((arg) => arg !== "")
        .slice(1);
    process.kill(pid, "SIGKILL");
    await waitFor("the kube-apiserver to stop", () => !isAlive(pid), 30);
    log(`kube-apiserver stopped (pid ${pid}); starting it again in ${downSeconds}s`);
    await new Promise((resolve) => setTimeout(resolve, downSeconds * 1000));
    const restarted: SandboxState = { ...state, pids: { ...state.pids, "kube-apiserver": start("kube-apiserver", state.bin, args, state.dir) } };
    writeFileSync(STATE_FILE, JSON.stringify(restarted, null, 2));
    await waitFor(
        "kube-apiserver",
        () => {
            try {
                return kubectl(restarted, ["get", "--raw", "/readyz"]).trim() === "ok";
            } catch {
                return false;
            }
        },
        120,
    );
    return restarted;
}

/**
 * Whether a process runs: it exists and is not a zombie waiting to be reaped
 * (its state in /proc/<pid>/stat, the field after the parenthesised name, is
 * not Z). `kill(pid, 0)` succeeds for a zombie too.
 */
export function isAlive(pid: number): boolean {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const state = stat.charAt(stat.lastIndexOf(")") + 2);
        return state !== "Z";
    } catch {
        return false;
    }
}

export async function sandboxDown(): Promise<void> {
    const state = readState();
    if (state === undefined) {
        log("nothing to stop");
        return;
    }
    // Reverse order of start: the workers first, etcd last.
    const names = Object.keys(state.pids).reverse();
    for (const name of names) {
        try {
            process.kill(state.pids[name], "SIGTERM");
        } catch {
            // Already gone.
        }
    }
    await waitFor("the sandbox processes to stop", () => names.every((name) => !isAlive(state.pids[name])), 20).catch(() => {
        for (const name of names) if (isAlive(state.pids[name])) process.kill(state.pids[name], "SIGKILL");
    });
    rmSync(STATE_FILE, { force: true });
    log(`stopped ${names.join(", ")}`);
}

if (require.main === module) {
    const command = process.argv[2];
    const run =
        command === "up" ? sandboxUp().then(() => undefined) : command === "down" ? sandboxDown() : Promise.reject(new Error("usage: sandbox.ts up|down"));
    run.catch((error: unknown) => {
        log(error instanceof Error ? error.message : String(error));
        process.exitCode = 1;
    });
}
