/**
 * Child-process entry of benchmark 1: one program (ours or the baseline)
 * under the mock runtime for one raw config (JSON on stdin); writes what it
 * registered (JSON on stdout). Both name auto-named resources by their
 * replacing inputs, so a replacement cascades to what references it, as it
 * does in AWS.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "../config/schema";
import { installRecordingMocks } from "../plan/mockRuntime";
import { declareModelServing } from "../program";
import { declareNaiveServing } from "./naiveProgram";

async function main(): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const { program, rawConfig } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { program: "mlops" | "naive"; rawConfig: unknown };
    const config = parseStackConfig(rawConfig);
    // The program's own output (pulumi.log under the mocks) must not mix with the result: it goes to stderr.
    const writeResult = process.stdout.write.bind(process.stdout);
    process.stdout.write = process.stderr.write.bind(process.stderr);
    const registered = await installRecordingMocks("bench", {}, { physicalNames: "byReplacingInputs" });
    if (program === "mlops") declareModelServing(config);
    else declareNaiveServing(config);
    await pulumi.runtime.disconnect();
    writeResult(JSON.stringify(registered));
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
});
