/**
 * The Pulumi program: read the `mlops:*` stack config, validate it, declare
 * the model serving stack and export what it serves.
 */
import * as pulumi from "@pulumi/pulumi";
import { rawConfigFromPulumiConfig } from "./config/sources";
import { parseStackConfig } from "./config/schema";
import { declareModelServing } from "./program";

const config = parseStackConfig(rawConfigFromPulumiConfig(pulumi.runtime.allConfig()));
const serving = declareModelServing(config);

export const target = serving.target;
export const model = serving.model;
export const pinnedVersion = serving.pinnedVersion;
export const warmVersions = serving.warmVersions;
export const endpointName = serving.endpointName;
export const endpointConfigNames = serving.endpointConfigNames;
