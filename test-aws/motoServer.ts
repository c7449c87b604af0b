/**
 * Starts `moto_server.py` (emulated AWS) on 127.0.0.1 and a free port for a
 * test file, and stops it after. The Python comes from MLOPS_MOTO_PYTHON,
 * else the virtualenv `test-aws/install-moto.sh` makes, else `python3`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const MOTO_VENV = path.join(os.homedir(), ".cache", "mlops-rollback", "moto-venv");
const SERVER_SCRIPT = path.join(__dirname, "moto_server.py");

/** The account and credentials moto answers for. */
export const MOTO_ACCOUNT = "123456789012";
export const MOTO_REGION = "us-east-1";
export const MOTO_CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" };

export interface MotoServer {
    readonly endpoint: string;
    /** Forget every resource (moto's own reset API). */
    reset(): Promise<void>;
    /** Put a SageMaker endpoint in a status moto never enters by itself, e.g. Updating. */
    setEndpointStatus(name: string, status: string): Promise<void>;
    /** Every UpdateEndpoint SageMaker (moto) accepted since the last reset, in order. */
    updateEndpointCalls(): Promise<{ readonly name: string; readonly config: string }[]>;
    /**
     * Make every later UpdateEndpoint / UpdateEndpointWeightsAndCapacities keep the endpoint
     * Updating (refusing further updates) for `seconds` before it is InService with the new
     * values, as SageMaker does for minutes. 0, the default after a reset, completes at once.
     */
    setUpdateDelay(seconds: number): Promise<void>;
    /** Every UpdateEndpointWeightsAndCapacities SageMaker (moto) accepted since the last reset, in order, its variants as sent. */
    weightsCalls(): Promise<WeightsCall[]>;
    /** Every AWS call the server received since the last reset, in order: `service` as in SigV4 (sagemaker, dynamodb, sns, ...), `operation` as in the API reference. */
    calls(): Promise<AwsCall[]>;
    stop(): Promise<void>;
}

/** One accepted UpdateEndpointWeightsAndCapacities: the endpoint and its DesiredWeightsAndCapacities. */
export interface WeightsCall {
    readonly name: string;
    readonly variants: readonly { readonly VariantName: string; readonly DesiredWeight?: number; readonly DesiredInstanceCount?: number }[];
}

/** One AWS API call, as the moto server received it. */
export interface AwsCall {
    readonly service: string;
    readonly operation: string;
}

/** A Python that can run moto's server, or why there is none. */
export function findMotoPython(): { python: string } | { missing: string } {
    const candidates = [process.env.MLOPS_MOTO_PYTHON, path.join(MOTO_VENV, "bin", "python"), "python3"].filter(
        (candidate): candidate is string => candidate !== undefined && candidate !== "",
    );
    const tried: string[] = [];
    for (const python of candidates) {
        if (python.includes(path.sep) && !fs.existsSync(python)) continue;
        const probe = spawnSync(python, ["-c", "import moto, flask, flask_cors; print(moto.__version__)"], { encoding: "utf8", timeout: 30_000 });
        if (probe.status === 0) return { python };
        tried.push(`${python}: ${(probe.error?.message ?? probe.stderr.trim().split("\n").pop()) || `exit ${probe.status}`}`);
    }
    return { missing: `no Python with moto[server] (tried ${tried.join("; ") || "nothing"}); run: bash test-aws/install-moto.sh` };
}

/**
 * For a test file: the Python to run moto with, or undefined after a visible
 * `[SKIPPED] <what>` line when there is none. Under CI=true a missing moto
 * fails the file instead (CI must never pass by skipping), and so it does
 * under MLOPS_REQUIRE_MOTO=1, which `npm run test:aws` sets: whoever runs
 * that command asked for these tests.
 */
export function motoPythonForTests(what: string): string | undefined {
    const found = findMotoPython();
    if ("python" in found) return found.python;
    if (process.env.CI === "true") throw new Error(`CI=true and the moto tests cannot run: ${found.missing}`);
    if (process.env.MLOPS_REQUIRE_MOTO === "1") throw new Error(`npm run test:aws needs moto: ${found.missing}`);
    console.warn(`\n[SKIPPED] ${what} against moto: ${found.missing}\n`);
    return undefined;
}

export async function startMoto(python: string): Promise<MotoServer> {
    const child = spawn(python, [SERVER_SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
    const stderr: string[] = [];
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString("utf8")));
    const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`moto did not start within 30 s: ${stderr.join("")}`)), 30_000);
        let buffered = "";
        child.stdout?.on("data", (chunk: Buffer) => {
            buffered += chunk.toString("utf8");
            const match = /listening (\d+)/.exec(buffered);
            if (match !== null) {
                clearTimeout(timer);
                resolve(Number(match[1]));
            }
        });
        child.on("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`moto exited (${code}) before serving: ${stderr.join("")}`));
        });
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const post = async (route: string, body?: unknown) => {
        const response = await fetch(`${endpoint}${route}`, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body) });
        if (!response.ok) throw new Error(`${route}: HTTP ${response.status} ${await response.text()}`);
    };
    return {
        endpoint,
        reset: () => post("/moto-api/reset"),
        setEndpointStatus: (name, status) => post("/_mlops/sagemaker/endpoint-status", { region: MOTO_REGION, name, status }),
        updateEndpointCalls: async () =>
            (await (await fetch(`${endpoint}/_mlops/sagemaker/update-endpoint-calls`)).json()) as { name: string; config: string }[],
        setUpdateDelay: (seconds) => post("/_mlops/sagemaker/update-delay", { seconds }),
        weightsCalls: async () => (await (await fetch(`${endpoint}/_mlops/sagemaker/weights-calls`)).json()) as WeightsCall[],
        calls: async () => (await (await fetch(`${endpoint}/_mlops/calls`)).json()) as AwsCall[],
        stop: () => stopChild(child),
    };
}

function stopChild(child: ChildProcess): Promise<void> {
    return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.on("exit", () => {
            clearTimeout(killer);
            resolve();
        });
        // Closing stdin is the server's signal to shut down.
        child.stdin?.end();
    });
}

/** Client options for the AWS SDK against this server. */
export function motoClientOptions(server: MotoServer) {
    return { region: MOTO_REGION, endpoint: server.endpoint, credentials: MOTO_CREDENTIALS };
}
