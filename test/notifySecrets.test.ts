/**
 * mlops:rollback.notify as a secret, and never printed: how a target shows,
 * what a failed webhook says (a real HTTP server and a refused port on
 * 127.0.0.1), and the rollback flow sending to a secret decrypted by the
 * engine (a FakeStack stands for the engine's `pulumi config get`).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runPinChange, type PinChangeDeps, type PinChangeOptions } from "../cli/pinChange";
import { parseStackConfig } from "../config/schema";
import { loadStackConfig, rawConfigFromStackFile } from "../config/sources";
import { recordProgram } from "../plan/mockRuntime";
import { notifyDestination, postToWebhook, type RollbackNotice } from "../rollback/notify";
import { describeNotifyTarget, notifyAddress, notifyFailure, SECRET_WEBHOOK, withoutUrls } from "../rollback/notifyTarget";
import { FakeStack } from "./fixtures/fakeStack";

const ROOT = path.resolve(__dirname, "..");
const TOKEN_PATH = "/services/T0AAAAAAA/B0BBBBBBB/s3cr3tT0k3nXYZ";
const SECRET = { secure: "v1:vxqgigij7GXvhW3v:WIwI0+nLx3JHt0Va211qNWDr+E8GI83SO6dAbUvfjU2it7IKQhQhzx7WQymoBQ" };

const notice: RollbackNotice = {
    stack: "prod",
    model: "fraud-detector",
    kind: "rollback",
    from: "3",
    to: "2",
    reason: "5xx",
    result: "succeeded",
    durationSeconds: 1,
    detail: "",
};

/** A port on 127.0.0.1 that nothing listens on: taken, then released. */
async function refusedPort(): Promise<number> {
    const server = createNetServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
}

describe("how a notify target is shown", () => {
    it.each([
        [`https://hooks.slack.com${TOKEN_PATH}`, "https://hooks.slack.com/…"],
        ["https://alice:hunter2@example.com:8443/hook?token=abc#frag", "https://example.com:8443/…"],
        ["arn:aws:sns:us-east-1:123456789012:ml-alerts", "arn:aws:sns:us-east-1:123456789012:ml-alerts"],
        ["not a url at all /secret", "a webhook URL (not shown)"],
    ])("%s as %s", (target, shown) => {
        expect(describeNotifyTarget(target)).toBe(shown);
    });

    it("a secret by its key only", () => {
        expect(describeNotifyTarget(SECRET)).toBe("the secret in mlops:rollback.notify (value not shown)");
        expect(describeNotifyTarget(SECRET)).not.toContain(SECRET.secure);
    });

    it("cuts every URL in a message down to its host, or for a secret removes it", () => {
        const message = `Request cannot be constructed from a URL that includes credentials: https://alice:hunter2@hooks.example.com${TOKEN_PATH}`;
        expect(withoutUrls(message)).toBe("Request cannot be constructed from a URL that includes credentials: https://hooks.example.com/…");
        expect(withoutUrls(message, true)).toBe(`Request cannot be constructed from a URL that includes credentials: ${SECRET_WEBHOOK}`);
    });
});

describe("a webhook that fails never has its URL printed", () => {
    it("a 500 answer: the status, not the URL the server echoes in its status text", async () => {
        const server = createServer((_request, response) => response.writeHead(500, `bad https://hooks.example.com${TOKEN_PATH}`).end());
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${TOKEN_PATH}`;
        try {
            const error = (await postToWebhook(url, notice).catch((e: unknown) => e)) as Error;
            expect(error.message).toBe("the webhook answered 500 bad https://hooks.example.com/…");
            expect(notifyFailure(url, error)).toBe(`could not notify http://127.0.0.1:${(server.address() as AddressInfo).port}/…: ${error.message}`);
            expect(notifyFailure(url, error)).not.toContain("s3cr3t");
        } finally {
            server.close();
        }
    });

    it("a refused port: the network error's code, not fetch's message", async () => {
        const url = `https://127.0.0.1:${await refusedPort()}${TOKEN_PATH}`;
        const error = (await notifyDestination(url, notice).catch((e: unknown) => e)) as Error;
        expect(error.message).toBe("the webhook could not be reached (ECONNREFUSED)");
    });

    it("a URL with user:password@ (which fetch refuses, quoting it whole): neither is echoed", async () => {
        const url = `https://alice:hunter2@127.0.0.1:${await refusedPort()}${TOKEN_PATH}`;
        const warning = notifyFailure(url, await postToWebhook(url, notice).catch((e: unknown) => e));
        expect(warning).toMatch(/^could not notify https:\/\/127\.0\.0\.1:\d+\/…: the webhook could not be reached \(/);
        for (const secret of ["alice", "hunter2", "s3cr3t"]) expect(warning).not.toContain(secret);
    });
});

describe("the address a notice goes to", () => {
    it("a plain target as configured; a secret decrypted by the engine, by its key", async () => {
        const asked: string[] = [];
        const engine = { configValue: (key: string) => (asked.push(key), Promise.resolve(`https://hooks.slack.com${TOKEN_PATH}`)) };
        expect(await notifyAddress("arn:aws:sns:us-east-1:123456789012:t", engine)).toBe("arn:aws:sns:us-east-1:123456789012:t");
        expect(asked).toEqual([]);
        expect(await notifyAddress(SECRET, engine)).toBe(`https://hooks.slack.com${TOKEN_PATH}`);
        expect(asked).toEqual(["mlops:rollback.notify"]);
    });

    it("refuses a decrypted value that is not a target, without quoting it", async () => {
        const engine = { configValue: () => Promise.resolve(`https://alice:hunter2@hooks.example.com${TOKEN_PATH}`) };
        const error = (await notifyAddress(SECRET, engine).catch((e: unknown) => e)) as Error;
        expect(error.message).toContain("its decrypted value is not a notify target: a webhook URL with user:password@ cannot be sent");
        for (const secret of ["alice", "hunter2", "s3cr3t"]) expect(error.message).not.toContain(secret);
    });

    it("says there is nothing to decrypt with when no engine can be asked", async () => {
        await expect(notifyAddress(SECRET, {})).rejects.toThrow("it cannot be decrypted here: no engine to ask");
    });
});

/** A stack whose engine answers `pulumi config get --path` (the layer below the CLI). */
class StackWithSecrets extends FakeStack {
    readonly configAsked: string[] = [];
    secretValue: string | Error = `https://hooks.slack.com${TOKEN_PATH}`;
    configValue(key: string): Promise<string | undefined> {
        this.configAsked.push(key);
        return this.secretValue instanceof Error ? Promise.reject(this.secretValue) : Promise.resolve(this.secretValue);
    }
}

describe("a rollback tells the team at a secret webhook, and never prints it", () => {
    let file: string;
    let stack: StackWithSecrets;
    let stderr: string;
    let sent: { destination: string; notice: RollbackNotice }[];

    const withNotify = (notify: string) => {
        const example = readFileSync(path.join(ROOT, "stacks", "Pulumi.sagemaker-example.yaml"), "utf8");
        writeFileSync(file, example.replace("  mlops:quarantined: []\n", `  mlops:quarantined: []\n  mlops:rollback:\n    notify:${notify}\n`));
    };

    beforeEach(() => {
        const projectDir = mkdtempSync(path.join(tmpdir(), "mlops-notify-"));
        mkdirSync(path.join(projectDir, "stacks"));
        copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(projectDir, "Pulumi.yaml"));
        file = path.join(projectDir, "stacks", "Pulumi.prod.yaml");
        withNotify(`\n      secure: ${SECRET.secure}`);
        stack = new StackWithSecrets("prod", file);
        stderr = "";
        sent = [];
    });

    afterEach(() => {
        stack.calls.length = 0;
    });

    const options = (): PinChangeOptions => ({ stack: "prod", file, projectDir: path.dirname(path.dirname(file)), yes: true, reason: "5xx" });
    const deps = (notify: PinChangeDeps["notify"]): PinChangeDeps => ({
        openStack: () => Promise.resolve(stack),
        verifierFor: () => ({ verify: () => Promise.resolve({ ok: true, detail: "serves 2" }) }),
        notify,
        stdout: () => undefined,
        stderr: (text) => (stderr += text),
        now: () => new Date("2026-11-27T09:00:00.000Z"),
    });

    it("sends the notice to the value the engine decrypted, and leaves the secret in the file as it was", async () => {
        const record: PinChangeDeps["notify"] = (destination, sentNotice) => (sent.push({ destination, notice: sentNotice }), Promise.resolve());
        const result = await runPinChange("rollback", options(), deps(record));
        expect(result.result).toBe("succeeded");
        expect(stack.configAsked).toEqual(["mlops:rollback.notify"]);
        expect(sent.map((s) => s.destination)).toEqual([`https://hooks.slack.com${TOKEN_PATH}`]);
        expect(loadStackConfig(file).config.rollback.notify).toEqual(SECRET);
        expect(stderr).not.toContain("s3cr3t");
    });

    it("a failed send names the secret by its key only, even when the error quotes the URL", async () => {
        const failing: PinChangeDeps["notify"] = (destination) => Promise.reject(new Error(`fetch failed for ${destination}`));
        const result = await runPinChange("rollback", options(), deps(failing));
        expect(result.result).toBe("succeeded");
        expect(stderr).toContain(`warning: could not notify ${SECRET_WEBHOOK}: fetch failed for ${SECRET_WEBHOOK}`);
        expect(stderr).not.toContain("hooks.slack.com");
        expect(stderr).not.toContain("s3cr3t");
    });

    it("a secret the engine cannot decrypt (a wrong passphrase): a warning naming the key, and the rollback stands", async () => {
        stack.secretValue = new Error("pulumi config get --path mlops:rollback.notify failed: incorrect passphrase");
        const result = await runPinChange(
            "rollback",
            options(),
            deps(() => Promise.resolve()),
        );
        expect(result.result).toBe("succeeded");
        expect(stderr).toContain(`warning: could not notify ${SECRET_WEBHOOK}: pulumi config get --path mlops:rollback.notify failed: incorrect passphrase`);
    });

    it("a plain webhook on a refused port (the real notifier): the warning has its host, not its token", async () => {
        const port = await refusedPort();
        withNotify(` https://127.0.0.1:${port}${TOKEN_PATH}`);
        const result = await runPinChange("rollback", options(), deps(notifyDestination));
        expect(result.result).toBe("succeeded");
        expect(stderr).toContain(`warning: could not notify https://127.0.0.1:${port}/…: the webhook could not be reached (ECONNREFUSED)`);
        expect(stderr).not.toContain("s3cr3t");
        expect(stderr).not.toContain("T0AAAAAAA");
    });
});

describe("the program", () => {
    it("hands the decrypted webhook to no resource: no input of any resource holds any part of it (the trigger's Lambda and build included)", async () => {
        // What the engine hands the program: mlops:rollback decrypted. The mock runtime stands for the engine.
        const url = `https://hooks.slack.com${TOKEN_PATH}`;
        const config = parseStackConfig({ ...rawConfigFromStackFile(path.join(ROOT, "stacks", "Pulumi.sagemaker-example.yaml")), rollback: { notify: url } });
        expect(config.trigger).toBeDefined();
        const registered = await recordProgram(config, "test");
        expect(registered.length).toBeGreaterThan(10);
        const inputs = JSON.stringify(registered.map((resource) => resource.inputs));
        expect(inputs).not.toContain("s3cr3t");
        expect(inputs).not.toContain("hooks.slack.com");
    });
});
